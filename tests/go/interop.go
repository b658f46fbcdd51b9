// interop: the Go checksum database's own packages (golang.org/x/mod/sumdb/note
// and tlog, Debian's golang-golang-x-mod-dev) on attestchain's trees, notes and
// proofs, and the other way round, for tests/e2e/t_go_interop.py.
//
//	interop check FILE         FILE is the JSON of `ac_tlog proofs` (leaves,
//	                           roots, checkpoints, inclusion and consistency
//	                           proofs, vkey): every checkpoint through note.Open
//	                           with the vkey, every root against tlog.TreeHash,
//	                           every proof through tlog.CheckRecord / CheckTree and
//	                           compared with tlog.ProveRecord / ProveTree.
//	                           Prints "ok N checks", or the first failure (exit 1).
//	interop make FILE ORIGIN   the same JSON schema made by Go alone from the
//	                           leaves of FILE: a fresh note key (note.GenerateKey),
//	                           checkpoints signed with note.Sign, tlog's proofs.
//
// Built offline in GOPATH mode by the test (GO111MODULE=off GOPATH=/usr/share/gocode).
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index int64    `json:"index"`
	Size  int64    `json:"size"`
	Proof []string `json:"proof"`
}

type consistency struct {
	Old   int64    `json:"old"`
	New   int64    `json:"new"`
	Proof []string `json:"proof"`
}

type doc struct {
	Vkey        string        `json:"vkey"`
	Leaves      []string      `json:"leaves"`
	Roots       []string      `json:"roots"`
	Checkpoints []string      `json:"checkpoints"`
	Inclusion   []inclusion   `json:"inclusion"`
	Consistency []consistency `json:"consistency"`
}

type store []tlog.Hash

func (s store) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(s)) {
			return nil, fmt.Errorf("stored hash %d of %d", x, len(s))
		}
		out[i] = s[x]
	}
	return out, nil
}

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func build(leaves []string) (store, [][]byte) {
	var s store
	data := make([][]byte, len(leaves))
	for i, l := range leaves {
		b, err := base64.StdEncoding.DecodeString(l)
		if err != nil {
			fail("leaf %d: %v", i, err)
		}
		data[i] = b
		hs, err := tlog.StoredHashes(int64(i), b, s)
		if err != nil {
			fail("stored hashes %d: %v", i, err)
		}
		s = append(s, hs...)
	}
	return s, data
}

func hashes(list []string) []tlog.Hash {
	out := make([]tlog.Hash, len(list))
	for i, x := range list {
		h, err := tlog.ParseHash(x)
		if err != nil {
			fail("hash %q: %v", x, err)
		}
		out[i] = h
	}
	return out
}

func strs(list []tlog.Hash) []string {
	out := make([]string, len(list))
	for i, h := range list {
		out[i] = h.String()
	}
	return out
}

// parseCheckpoint reads the three lines of a checkpoint body.
func parseCheckpoint(text string) (string, int64, tlog.Hash) {
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		fail("checkpoint body %q is not three lines", text)
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != lines[1] {
		fail("checkpoint size %q", lines[1])
	}
	h, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("checkpoint root %q: %v", lines[2], err)
	}
	return lines[0], n, h
}

func check(d doc) {
	s, data := build(d.Leaves)
	checks := 0
	roots := make([]tlog.Hash, len(d.Leaves)+1)
	for n := range roots {
		h, err := tlog.TreeHash(int64(n), s)
		if err != nil {
			fail("tree hash %d: %v", n, err)
		}
		if n > 0 && h.String() != d.Roots[n] { // tlog has no root for size 0
			fail("root of size %d: ours %s, tlog %s", n, d.Roots[n], h)
		}
		roots[n] = h
		checks++
	}
	v, err := note.NewVerifier(d.Vkey)
	if err != nil {
		fail("note.NewVerifier(%q): %v", d.Vkey, err)
	}
	for i, cp := range d.Checkpoints {
		n, err := note.Open([]byte(cp), note.VerifierList(v))
		if err != nil {
			fail("note.Open of checkpoint %d: %v", i, err)
		}
		origin, size, root := parseCheckpoint(n.Text)
		if origin != v.Name() || size < 0 || size > int64(len(d.Leaves)) || root != roots[size] {
			fail("checkpoint %d: origin %q size %d root %s", i, origin, size, root)
		}
		checks++
	}
	for _, p := range d.Inclusion {
		proof := hashes(p.Proof)
		leaf := tlog.RecordHash(data[p.Index])
		if err := tlog.CheckRecord(proof, p.Size, roots[p.Size], p.Index, leaf); err != nil {
			fail("tlog.CheckRecord %d in %d: %v", p.Index, p.Size, err)
		}
		theirs, err := tlog.ProveRecord(p.Size, p.Index, s)
		if err != nil || strings.Join(strs(theirs), " ") != strings.Join(p.Proof, " ") {
			fail("tlog.ProveRecord %d in %d differs: %v", p.Index, p.Size, err)
		}
		checks++
	}
	for _, p := range d.Consistency {
		proof := hashes(p.Proof)
		if err := tlog.CheckTree(proof, p.New, roots[p.New], p.Old, roots[p.Old]); err != nil {
			fail("tlog.CheckTree %d -> %d: %v", p.Old, p.New, err)
		}
		theirs, err := tlog.ProveTree(p.New, p.Old, s)
		if err != nil || strings.Join(strs(theirs), " ") != strings.Join(p.Proof, " ") {
			fail("tlog.ProveTree %d -> %d differs: %v", p.Old, p.New, err)
		}
		checks++
	}
	fmt.Printf("ok %d checks\n", checks)
}

func make_(d doc, origin string) {
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		fail("note.GenerateKey: %v", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		fail("note.NewSigner: %v", err)
	}
	s, _ := build(d.Leaves)
	out := doc{Vkey: vkey, Leaves: d.Leaves}
	// tlog has no root for size 0; RFC 6962's is SHA-256 of nothing.
	out.Roots = append(out.Roots, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
	n := int64(len(d.Leaves))
	for size := int64(1); size <= n; size++ {
		h, err := tlog.TreeHash(size, s)
		if err != nil {
			fail("tree hash: %v", err)
		}
		out.Roots = append(out.Roots, h.String())
		text := fmt.Sprintf("%s\n%d\n%s\n", origin, size, h)
		msg, err := note.Sign(&note.Note{Text: text}, signer)
		if err != nil {
			fail("note.Sign: %v", err)
		}
		out.Checkpoints = append(out.Checkpoints, string(msg))
		for i := int64(0); i < size; i++ {
			p, err := tlog.ProveRecord(size, i, s)
			if err != nil {
				fail("tlog.ProveRecord: %v", err)
			}
			out.Inclusion = append(out.Inclusion, inclusion{i, size, strs(p)})
		}
		for m := int64(1); m <= size; m++ {
			p, err := tlog.ProveTree(size, m, s)
			if err != nil {
				fail("tlog.ProveTree: %v", err)
			}
			out.Consistency = append(out.Consistency, consistency{m, size, strs(p)})
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("encode: %v", err)
	}
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: interop check FILE | interop make FILE ORIGIN")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var d doc
	if err := json.Unmarshal(raw, &d); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch {
	case os.Args[1] == "check" && len(os.Args) == 3:
		check(d)
	case os.Args[1] == "make" && len(os.Args) == 4:
		make_(d, os.Args[3])
	default:
		fmt.Fprintln(os.Stderr, "usage: interop check FILE | interop make FILE ORIGIN")
		os.Exit(2)
	}
}
