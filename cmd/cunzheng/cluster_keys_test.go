package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/evidence"
)

// TestClusterRefusesMissingKeys: cluster mode makes no key of its own
// (each process would otherwise publish its own TSA and document-signing
// roots, and seal with its own master key): with a key missing from
// --data/keys it does not start, says which, and how to make and copy
// them, and creates none. Checked before any connection, so no cluster is
// needed.
func TestClusterRefusesMissingKeys(t *testing.T) {
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(t.TempDir(), "seed")
	cunzheng(t, "keys", "--cluster", "--data", seed)
	all, err := os.ReadDir(filepath.Join(seed, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	logOnly := []string{"log-ed25519.key", "log-sm2.pem"}
	var every []string
	for _, e := range all {
		every = append(every, e.Name())
	}
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(every), func(n string) bool { return slices.Contains(drop, n) })
	}
	for _, tc := range []struct {
		name    string
		files   []string
		extra   []string
		env     string   // $CUNZHENG_MASTER_KEY
		missing []string // named in the error; none: the key check passes
	}{
		{name: "only the log keys", files: logOnly, missing: []string{"tsa.pem", "report-signing-key.pem", evidence.MasterKeyFile}},
		{name: "no keys", missing: []string{"log-ed25519.key", "log-sm2.pem", "tsa.pem", "report-demo-ca.pem"}},
		{name: "no TSA", files: without("tsa-ca.pem", "tsa-ca.key", "tsa.pem", "tsa.key"), missing: []string{"tsa.pem"}},
		{name: "no TSA, with --tsa", files: without("tsa-ca.pem", "tsa-ca.key", "tsa.pem", "tsa.key"), extra: []string{"--tsa", "http://127.0.0.1:1/tsa"}},
		{name: "no master key file, with the variable", files: without(evidence.MasterKeyFile), env: strings.Repeat("ab", 32)},
		{name: "every key", files: every},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "p0")
			if err := os.MkdirAll(filepath.Join(data, "keys"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := copyKeys(filepath.Join(seed, "keys"), filepath.Join(data, "keys")); err != nil {
				t.Fatal(err)
			}
			for _, e := range all {
				if !slices.Contains(tc.files, e.Name()) {
					os.Remove(filepath.Join(data, "keys", e.Name()))
				}
			}
			before := listDir(t, filepath.Join(data, "keys"))
			cmd := exec.Command(bin, append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0",
				"--cluster-db", "postgres://cz@127.0.0.1:1/none", "--objects", "s3://none?endpoint=http://127.0.0.1:1&region=r",
				"--notary", "http://127.0.0.1:1=notary.test+00000000+AAAA"}, tc.extra...)...)
			cmd.Env = append(os.Environ(), evidence.MasterKeyEnv+"="+tc.env)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil {
				t.Fatal("cluster mode started with no database")
			}
			msg := stderr.String()
			if len(tc.missing) == 0 {
				if strings.Contains(msg, "creates no keys") {
					t.Errorf("refused for keys it has:\n%s", msg)
				}
				return
			}
			for _, want := range append([]string{"集群模式不生成密钥", "cluster mode creates no keys", "cunzheng keys --cluster --data X", "copy X/keys/"}, tc.missing...) {
				if !strings.Contains(msg, want) {
					t.Errorf("the error lacks %q:\n%s", want, msg)
				}
			}
			if after := listDir(t, filepath.Join(data, "keys")); after != before {
				t.Errorf("the refused start changed the keys: %s, then %s", before, after)
			}
		})
	}
}

func listDir(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// TestClusterSharedKeys: the processes of a cluster, each holding a copy
// of the keys `cunzheng keys --cluster` made, publish the same trust roots
// on /keys (the document-signing CA and the built-in TSA's root, the seed's),
// and a report issued by one process, timestamped by its built-in TSA,
// verifies against the roots the other publishes: a court pinning one
// process's /keys checks every process's reports.
func TestClusterSharedKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL, an S3 server, a notary office and two serve processes")
	}
	c := newTestCluster(t)
	key := c.createTenant(t)
	p0 := c.serve(t, 0)
	p1 := c.serve(t, 1)

	roots0 := httpGet(t, p0.url+"/keys/trust-roots.pem")
	roots1 := httpGet(t, p1.url+"/keys/trust-roots.pem")
	if !bytes.Equal(roots0, roots1) {
		t.Errorf("the processes publish different trust roots:\n%s\n---\n%s", roots0, roots1)
	}
	for _, name := range []string{"tsa-ca.pem", "report-demo-ca.pem"} {
		seed, err := os.ReadFile(filepath.Join(c.keys, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(roots1, bytes.TrimSpace(seed)) {
			t.Errorf("/keys/trust-roots.pem lacks the cluster's %s", name)
		}
	}

	batch, err := os.ReadFile("../../evidence/testdata/demo_batch.json")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, p0.url+"/v1/events", bytes.NewReader(batch))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := appendClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ingest: %s", resp.Status)
	}
	// Issued once the events' checkpoint is cosigned and timestamped.
	var pdf []byte
	waitUntil(t, "the certificate page from process 0", func() bool {
		req, _ := http.NewRequest(http.MethodGet, p0.url+"/v1/contracts/"+demoContract+"/certificate.pdf", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := appendClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		pdf, _ = io.ReadAll(resp.Body)
		return resp.StatusCode == 200
	})
	dir := t.TempDir()
	f := filepath.Join(dir, "certificate.pdf")
	rootsDir := filepath.Join(dir, "roots")
	if err := os.Mkdir(rootsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootsDir, "trust-roots.pem"), roots1, 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", "pdf", f, "--trust-roots", rootsDir, "--system-roots=false").CombinedOutput()
	if err != nil {
		sum := sha256.Sum256(pdf)
		t.Errorf("process 0's certificate page (SHA-256 %s) does not verify against process 1's /keys: %v\n%s", hex.EncodeToString(sum[:]), err, out)
	}
}
