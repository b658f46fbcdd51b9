/* ac_keyfile: the library's key-file calls, for tests/e2e/t_secrets.py.
 *
 *   ac_keyfile save PATH      ac_key_generate + ac_key_save; exit 0 saved,
 *                             3 refused because PATH exists (AC_EEXIST),
 *                             2 any other failure
 *   ac_keyfile exposed PATH   prints ac_key_file_exposed's answer (0 or 1)
 */
#include <stdio.h>
#include <string.h>

#include "attestchain.h"

static int save(const char *path)
{
    ac_key *key;
    ac_error err = {0};
    if (ac_key_generate(&key, &err) != AC_OK) {
        fprintf(stderr, "ac_keyfile: %s\n", err.message);
        return 2;
    }
    int rc = ac_key_save(key, path, &err);
    ac_key_free(key);
    if (rc == AC_OK)
        return 0;
    fprintf(stderr, "ac_keyfile: %s\n", err.message);
    return rc == AC_EEXIST ? 3 : 2;
}

static int exposed(const char *path)
{
    ac_error err = {0};
    int rc = ac_key_file_exposed(path, &err);
    if (rc < 0) {
        fprintf(stderr, "ac_keyfile: %s\n", err.message);
        return 2;
    }
    printf("%d\n", rc);
    return fflush(stdout) == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "save") == 0)
        return save(argv[2]);
    if (argc == 3 && strcmp(argv[1], "exposed") == 0)
        return exposed(argv[2]);
    fprintf(stderr, "usage: ac_keyfile save PATH | exposed PATH\n");
    return 2;
}
