package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/notary/client"
	"github.com/cunzheng/cunzheng/verify/cli"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKeysEverywhere: every key line `cunzheng keys` and `cunzheng notary
// keys` print is taken by every command and flag that takes keys, run as a
// user runs them (the built binary): `notary --log`, `serve --notary` and
// `--notary-fetch`, `verify pdf --ledger-keys`, `verify bundle --log-key`
// and `--notary-key`. Where a key is of the wrong kind for the flag (the
// log's SM2 key as a notary's), the refusal says so instead of calling the
// key malformed.
func TestKeysEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	logKeys := strings.Fields(cunzheng(t, "keys", "--data", data))
	if len(logKeys) != 2 {
		t.Fatalf("cunzheng keys printed %q", logKeys)
	}
	ed, sm := logKeys[0], logKeys[1]
	origin := ed[:strings.IndexByte(ed, '+')]

	// Three offices, one per form of --log: the log's Ed25519 key, its SM2
	// key, and ORIGIN=VKEY. serve pushes to all three (each by the key
	// `cunzheng notary keys` printed for it), and the default quorum needs
	// every one, so each cosignature shows that both flags took the keys.
	var offices []string // URL=VKEY
	var notaryKeys []string
	for i, logFlag := range []string{ed, sm, origin + "=" + ed} {
		dir := filepath.Join(tmp, "notary", string(rune('a'+i)))
		name := "notary-" + string(rune('a'+i)) + ".test"
		nk := strings.TrimSpace(cunzheng(t, "notary", "keys", "--data", dir, "--name", name))
		p := &notaryProc{t: t, bin: bin, addr: freeAddr(t), args: []string{"--data", dir, "--name", name, "--log", logFlag}}
		p.start()
		offices = append(offices, p.url()+"="+nk)
		notaryKeys = append(notaryKeys, nk)
	}
	args := []string{"--data", data, "--demo"}
	for _, o := range offices {
		args = append(args, "--notary", o)
	}
	s := startServe(t, args...)
	demoKey := waitDemo(t, s)

	// A completed contract whose file is a signed PDF of the corpus, so
	// that verify pdf --server finds it in the ledger.
	const dir = "../../testdata/pdf/"
	pdf, err := os.ReadFile(dir + "sm2-tsa.pdf")
	if err != nil {
		t.Fatal(err)
	}
	batch, err := os.ReadFile("../../evidence/testdata/demo_batch.json")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pdf)
	body := strings.ReplaceAll(string(batch), "9c3d2c1f6a0b8e7d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d", hex.EncodeToString(sum[:]))
	body = strings.ReplaceAll(body, `"demo-`, `"keys-test-`)
	body = strings.ReplaceAll(body, demoContract, "2125270852621569999")
	ingestJSON(t, s, demoKey, body)

	keyFile := func(lines ...string) string {
		f, err := os.CreateTemp(tmp, "keys-*.txt")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteString("# pinned from the log's and the notaries' published keys\n" + strings.Join(lines, "\n") + "\n")
		return f.Name()
	}
	verifyPDF := func(keys string) []string {
		return []string{"verify", "pdf", dir + "sm2-tsa.pdf", "--trust-roots", dir + "roots", "--system-roots=false", "--server", s.url, "--ledger-keys", keys}
	}
	all := append([]string{ed, sm}, notaryKeys...)
	// Wait until the newest checkpoint covers the contract and carries every
	// cosignature.
	allKeys := keyFile(all...)
	treeSize := regexp.MustCompile(`树大小 (\d+)`)
	// cosigned waits for a checkpoint larger than after, with the contract,
	// cosigned by all three offices, and returns its size.
	cosigned := func(after int) int {
		size := 0
		waitUntil(t, "a checkpoint with the contract, cosigned by the three offices", func() bool {
			out, _ := exec.Command(bin, verifyPDF(allKeys)...).CombinedOutput()
			m := treeSize.FindSubmatch(out)
			if m == nil {
				return false
			}
			size, _ = strconv.Atoi(string(m[1]))
			// The public lookup names the completion (the signed file), not the contract
			// number (the owning tenant's alone).
			return size > after && strings.Contains(string(out), "通过平台签署（合同签署完成）") && strings.Count(string(out), ".test") >= 3
		})
		return size
	}
	size := cosigned(0)

	bundle := filepath.Join(tmp, "bundle.zip")
	if err := os.WriteFile(bundle, demoDownload(t, s, demoKey, "evidence-bundle.zip"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Issuing the bundle appended its report.issued leaf: the subtests
	// below pin one office's key alone, so they need the checkpoint
	// covering it cosigned too, not one the offices have not seen yet.
	cosigned(size)
	verifyBundle := func(flags ...string) []string {
		return append([]string{"verify", "bundle", bundle, "--tsa-roots", filepath.Join(data, "keys", "tsa-ca.pem")}, flags...)
	}
	notaryFlags := func(keys ...string) []string {
		var out []string
		for _, k := range keys {
			out = append(out, "--notary-key", k)
		}
		return out
	}
	na, nb, nc := notaryKeys[0], notaryKeys[1], notaryKeys[2]
	const wrongKind = "not a notary's cosignature key"

	for _, tc := range []struct {
		name string
		args []string
		exit int
		want []string // all in the output
	}{
		{"verify pdf --ledger-keys log ed25519", verifyPDF(keyFile(ed)), 0, []string{"签名方 " + origin + "）"}},
		{"verify pdf --ledger-keys log sm2", verifyPDF(keyFile(sm)), 0, []string{"签名方 " + origin + "）"}},
		{"verify pdf --ledger-keys notary", verifyPDF(keyFile(na)), 0, []string{"签名方 notary-a.test）"}},
		{"verify pdf --ledger-keys all", verifyPDF(allKeys), 0, []string{"签名方 " + origin + ", notary-a.test, notary-b.test, notary-c.test）"}}, // one name per key holder
		{"verify pdf --ledger-keys malformed", verifyPDF(keyFile(ed, "not-a-key")), 1, []string{"line 3", "malformed verifier key"}},

		{"verify bundle ed25519 + notaries", verifyBundle(append([]string{"--log-key", ed}, notaryFlags(na, nb, nc)...)...), 0, []string{"verified against the pinned keys", "1 log key, 3 notary keys"}},
		{"verify bundle sm2 + notaries", verifyBundle(append([]string{"--log-key", sm}, notaryFlags(na, nb, nc)...)...), 0, []string{"verified against the pinned keys", "1 log key, 3 notary keys"}},
		{"verify bundle both log keys + notaries", verifyBundle(append([]string{"--log-key", ed, "--log-key", sm}, notaryFlags(na, nb, nc)...)...), 0, []string{"2 log keys, 3 notary keys"}},
		{"verify bundle sm2 as --notary-key", verifyBundle("--log-key", ed, "--notary-key", sm), 1, []string{"--notary-key", wrongKind}},
		{"verify bundle notary key as --log-key", verifyBundle(append([]string{"--log-key", na}, notaryFlags(na)...)...), cli.ExitBundleFailed, []string{"FAIL  检查点", "note has no verifiable signatures"}},
		{"verify bundle malformed --log-key", verifyBundle("--log-key", "x+1+AA"), 1, []string{"--log-key", "malformed verifier key"}},

		{"serve --notary sm2", []string{"serve", "--data", filepath.Join(tmp, "x"), "--notary", "http://127.0.0.1:9=" + sm}, 1, []string{wrongKind}},
		{"serve --notary-fetch sm2", []string{"serve", "--data", filepath.Join(tmp, "x"), "--notary-fetch", "http://127.0.0.1:9=" + sm}, 1, []string{wrongKind}},
		{"serve --notary malformed", []string{"serve", "--data", filepath.Join(tmp, "x"), "--notary", "http://127.0.0.1:9=x+1+AA"}, 1, []string{"malformed verifier key"}},
		{"notary --log malformed", []string{"notary", "--data", filepath.Join(tmp, "y"), "--addr", freeAddr(t), "--log", "x+1+AA"}, 1, []string{"--log", "malformed verifier key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			out, err := runWithTimeout(cmd, 60*time.Second)
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.exit {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.exit, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	s.stop(t)
}

func runWithTimeout(cmd *exec.Cmd, d time.Duration) (string, error) {
	var b strings.Builder
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return b.String(), err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return b.String(), errors.New("timed out")
	}
}

// demoDownload GETs a file of the demo contract with the demo key, waiting
// out the 503 answered until a cosigned, time-stamped checkpoint covers it.
func demoDownload(t *testing.T, s *server, key, name string) []byte {
	t.Helper()
	return fetchReady(t, s.url+"/v1/contracts/"+demoContract+"/"+name, key, 60*time.Second)
}

// fetchReady GETs u with the API key, waiting up to wait while it answers
// 503 (the records not yet in a cosigned, time-stamped checkpoint).
func fetchReady(t *testing.T, u, key string, wait time.Duration) []byte {
	t.Helper()
	for deadline := time.Now().Add(wait); ; time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			return body
		}
		if resp.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
		}
	}
}

// TestKeyFlagsTakePrintedKeys is TestKeysEverywhere's table in process
// (and in -short): the parser behind every flag that takes keys, given
// every key line `cunzheng keys` and `cunzheng notary keys` print (made by
// the same calls those commands make), takes each key of its kind, and
// refuses the log's SM2 key as a notary's by kind, not as malformed.
func TestKeyFlagsTakePrintedKeys(t *testing.T) {
	dir := t.TempDir()
	lk, err := ledger.LoadOrCreateKeys(filepath.Join(dir, "log", "keys"), "")
	if err != nil {
		t.Fatal(err)
	}
	logKeys := lk.VerifierKeys() // as cunzheng keys prints them
	if len(logKeys) != 2 {
		t.Fatalf("log keys %q", logKeys)
	}
	ed, sm := logKeys[0], logKeys[1]
	origin := ed[:strings.IndexByte(ed, '+')]
	skey, err := notary.LoadOrCreateKey(notaryKeyFile(filepath.Join(dir, "office")), notary.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	nk, err := notary.VerifierKey(skey) // as cunzheng notary keys prints it
	if err != nil {
		t.Fatal(err)
	}
	printed := map[string]string{"log ed25519": ed, "log sm2": sm, "notary": nk}

	keyFile := func(k string) string {
		f := filepath.Join(t.TempDir(), "keys.txt")
		if err := os.WriteFile(f, []byte("# pinned\n"+k+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	parsers := []struct {
		flag  string
		parse func(key string) error
		// takes lists the printed keys the flag takes; the others must be
		// refused as ErrKeyRole (the wrong kind of key for the flag).
		takes []string
	}{
		{"notary --log VKEY", func(k string) error { _, err := notary.ParseLogKey(k); return err },
			[]string{"log ed25519", "log sm2", "notary"}},
		{"notary --log ORIGIN=VKEY", func(k string) error {
			l, err := notary.ParseLogKey(origin + "=" + k)
			if err == nil && l.Origin != origin {
				return fmt.Errorf("origin %q", l.Origin)
			}
			return err
		}, []string{"log ed25519", "log sm2", "notary"}},
		{"serve --notary URL=VKEY", func(k string) error { _, err := client.ParseOffice("http://127.0.0.1:9/=" + k); return err },
			[]string{"log ed25519", "notary"}},
		{"serve --notary-fetch URL=VKEY", func(k string) error { _, err := client.ParseOffice("https://n.example/w?a=b=" + k); return err },
			[]string{"log ed25519", "notary"}},
		{"verify pdf --ledger-keys FILE", func(k string) error { _, err := cli.ReadVerifierKeys(keyFile(k)); return err },
			[]string{"log ed25519", "log sm2", "notary"}},
		{"verify bundle --log-key", func(k string) error { _, _, err := cli.ParseBundleKeys([]string{k}, nil); return err },
			[]string{"log ed25519", "log sm2", "notary"}},
		{"verify bundle --notary-key", func(k string) error { _, _, err := cli.ParseBundleKeys(nil, []string{k}); return err },
			[]string{"log ed25519", "notary"}},
	}
	for _, p := range parsers {
		for kind, key := range printed {
			t.Run(p.flag+"/"+kind, func(t *testing.T) {
				err := p.parse(key)
				if slices.Contains(p.takes, kind) {
					if err != nil {
						t.Fatalf("refused %s: %v", key, err)
					}
					return
				}
				if !errors.Is(err, tlogfmt.ErrKeyRole) {
					t.Fatalf("%s: err = %v, want the wrong kind of key (%v)", key, err, tlogfmt.ErrKeyRole)
				}
			})
		}
		t.Run(p.flag+"/malformed", func(t *testing.T) {
			if err := p.parse("x+1+AA"); !errors.Is(err, tlogfmt.ErrMalformedKey) {
				t.Fatalf("err = %v, want %v", err, tlogfmt.ErrMalformedKey)
			}
		})
	}
}
