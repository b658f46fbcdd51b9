# bash completion for attestchain(1); `make install` puts it where
# bash-completion loads it on demand (share/bash-completion/completions).
# Commands and options are read from the tool's own help texts, so that a
# command or option added to the tool completes without a change here.

# The tool's commands, from the "Commands:" section of its --help.
_attestchain_commands()
{
    "$1" --help 2>/dev/null | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p'
}

_attestchain()
{
    local tool=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=""
    local IFS=$'\n'
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "$(_attestchain_commands "$tool")"$'\n'"--help"$'\n'"--version" \
            -- "$cur"))
        return
    fi
    local cmd=${COMP_WORDS[1]}
    case $prev in
    -C | --dir)
        COMPREPLY=($(compgen -d -- "$cur"))
        return
        ;;
    -k | --key | --new-key | --passphrase-file | --hash-list | --meta-json-file)
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    --format)
        COMPREPLY=($(compgen -W $'pkcs8\nopenssh' -- "$cur"))
        return
        ;;
    -t | --type)
        COMPREPLY=($(compgen -W $'application/octet-stream\napplication/pdf\napplication/json\nimage/jpeg\nimage/png\ntext/plain' -- "$cur"))
        return
        ;;
    --hash | --from | --to | -j | --threads | -m | --meta | --meta-json)
        return # a value only the user knows
        ;;
    esac
    if [[ $cmd == help ]]; then
        ((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W "$(_attestchain_commands "$tool")" -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        local opts
        opts=$("$tool" "$cmd" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
}

complete -o filenames -F _attestchain attestchain
