package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/verify"
	"github.com/cunzheng/cunzheng/verify/cli"
	"github.com/cunzheng/cunzheng/web/verifyview"
)

// wasmHarness runs the /verify page's module (web/wasm/verify.wasm) in
// Node over a list of PDFs: one JSON line (web/verifyview.LocalResult,
// without its HTML) per file.
const wasmHarness = `"use strict";
globalThis.require = require;
globalThis.fs = require("fs");
globalThis.crypto ??= require("crypto").webcrypto;
require(process.argv[2]); // Go's wasm_exec.js: defines Go
const [wasmPath, jobsPath] = process.argv.slice(3);
(async () => {
  const ready = new Promise((r) => { globalThis.cunzhengWasmReady = r; });
  const go = new Go();
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(wasmPath), go.importObject);
  go.run(instance);
  await ready;
  for (const j of JSON.parse(fs.readFileSync(jobsPath, "utf8"))) {
    const bytes = new Uint8Array(fs.readFileSync(j.file));
    const res = JSON.parse(await cunzhengVerifyPDF(bytes, JSON.stringify(j.request)));
    delete res.html;
    process.stdout.write(JSON.stringify({ file: j.file, result: res }) + "\n");
  }
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`

// wasmModule returns the built module and wasm_exec.js, or skips (fails
// under make test, which builds them) when they are missing.
func wasmModule(t *testing.T) (module, execJS string) {
	t.Helper()
	dir := filepath.Join("..", "..", "web", "wasm")
	module, execJS = filepath.Join(dir, "verify.wasm"), filepath.Join(dir, "wasm_exec.js")
	for _, f := range []string{module, execJS} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("CUNZHENG_REQUIRE_WASM") != "" {
				t.Fatalf("the local check module is missing (make wasm builds it): %v", err)
			}
			t.Skipf("no local check module (%v): run make wasm", err)
		}
	}
	return module, execJS
}

// TestWasmCorpus runs the browser's module in Node over testdata/pdf and
// the pyHanko corpus and compares every report with `verify pdf --json`
// on the same file with the same roots: the local check passes the same
// corpus as the server and the CLI.
func TestWasmCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CUNZHENG_REQUIRE_WASM") != "" {
			t.Fatal("node is not installed: make deps installs nodejs, which the module's corpus harness needs")
		}
		t.Skip("node is not installed: the module's corpus harness needs it (make deps installs nodejs)")
	}
	module, execJS := wasmModule(t)
	skey, vkey, err := note.GenerateKey(rand.Reader, "cunzheng.test/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	type corpus struct{ dir, roots string }
	corpora := []corpus{{filepath.Join("..", "..", "testdata", "pdf"), filepath.Join("..", "..", "testdata", "pdf", "roots")}}
	py := filepath.Join("..", "..", "..", "shared", "corpus", "pyhanko")
	if d := os.Getenv("CUNZHENG_PYHANKO_CORPUS"); d != "" {
		py = d
	}
	if _, err := os.Stat(py); err != nil {
		t.Logf("pyHanko corpus not found at %s: only testdata/pdf is compared", py)
	} else {
		corpora = append(corpora, corpus{py, ""})
	}
	type job struct {
		File    string                  `json:"file"`
		Request verifyview.LocalRequest `json:"request"`
		roots   string
	}
	var jobs []job
	for _, c := range corpora {
		roots, err := verify.RootCertificates(c.roots)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := verify.SignTrustBundle(verify.TrustBundle{Origin: "cunzheng.test/log", LogKeys: []string{vkey}, Roots: roots}, signer)
		if err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(c.dir, "*.pdf"))
		sort.Strings(files)
		for _, f := range files {
			jobs = append(jobs, job{File: f, Request: verifyview.LocalRequest{TrustBundle: string(tb), LogKey: vkey, Lang: "zh"}, roots: c.roots})
		}
	}
	jobsFile := filepath.Join(t.TempDir(), "jobs.json")
	harness := filepath.Join(t.TempDir(), "harness.js")
	b, _ := json.Marshal(jobs)
	os.WriteFile(jobsFile, b, 0o600)
	os.WriteFile(harness, []byte(wasmHarness), 0o600)
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	cmd := exec.Command(node, harness, abs(execJS), abs(module), jobsFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node harness: %v\n%s", err, stderr.String())
	}
	type line struct {
		File   string                 `json:"file"`
		Result verifyview.LocalResult `json:"result"`
	}
	got := map[string]verifyview.LocalResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 16<<20), 16<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("harness output: %v: %.200s", err, sc.Text())
		}
		got[l.File] = l.Result
	}
	if len(got) != len(jobs) {
		t.Fatalf("the harness answered %d of %d files", len(got), len(jobs))
	}
	for _, j := range jobs {
		// The CLI's own code path, in this process: verify pdf --json.
		args := []string{j.File, "--json", "--system-roots=false"}
		if j.roots != "" {
			args = append(args, "--trust-roots", j.roots)
		}
		var out bytes.Buffer
		cerr := cli.PDF(context.Background(), "cunzheng verify", args, &out)
		code := cli.ExitCode(cerr)
		unreadable := code == cli.ExitUnreadable
		if code == 1 {
			t.Errorf("%s: verify pdf: %v", j.File, cerr)
			continue
		}
		res := got[j.File]
		name := strings.TrimPrefix(j.File, "../../")
		switch {
		case unreadable && res.Error == nil:
			t.Errorf("%s: the CLI cannot read it (%v), the module gives a report", name, cerr)
		case unreadable:
		case res.Error != nil:
			t.Errorf("%s: the module fails (%s), the CLI gives a report", name, res.Error.EN)
		default:
			var want verify.Report
			if err := json.Unmarshal(out.Bytes(), &want); err != nil {
				t.Fatalf("%s: CLI JSON: %v", name, err)
			}
			if g, w := reportJSON(t, res.Report), reportJSON(t, &want); g != w {
				t.Errorf("%s: the module's report differs from verify pdf --json:\nmodule: %s\nCLI:    %s", name, g, w)
			}
		}
	}
	t.Logf("%d files compared", len(jobs))
}
