package main

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/notary"
)

// TestClusterRefusesBuiltinOffice: cluster mode without --notary or
// --notary-fetch does not start (each process would run a built-in office
// of its own, with its own cosignatures, requests and 公证书); the error
// says what to run instead, and nothing is created or connected to.
func TestClusterRefusesBuiltinOffice(t *testing.T) {
	bin, err := cunzhengBinary()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "p0")
	cmd := exec.Command(bin, "serve", "--data", data, "--addr", "127.0.0.1:0",
		"--cluster-db", "postgres://cz@127.0.0.1:1/none", "--objects", "s3://none?endpoint=http://127.0.0.1:1&region=r")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("cluster mode started with the built-in office")
	}
	msg := stderr.String()
	for _, want := range []string{"cluster mode needs a standalone notary office", "cunzheng notary --data DIR", "--notary URL=VKEY"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q:\n%s", want, msg)
		}
	}
	if _, err := os.Stat(data); err == nil {
		t.Errorf("the refused start created %s", data)
	}
}

// TestClusterNotarisation: two processes of a cluster share one notary
// office. A request made through the console of one is checked by the
// office against checkpoints the lease holder pushed to it (whichever
// process that is), its 公证书 is recorded in the shared ledger by the
// processes' polls, and the console of the other process serves it; no
// process asks an office that does not know the request.
func TestClusterNotarisation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL, an S3 server, a notary office and two serve processes")
	}
	c := newTestCluster(t)
	key := c.createTenant(t)
	p0 := c.serve(t, 0, "--notary-poll", "200ms")
	p1 := c.serve(t, 1, "--notary-poll", "200ms")
	office := c.office

	batch, err := os.ReadFile("../../evidence/testdata/demo_batch.json")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, p1.url+"/v1/events", bytes.NewReader(batch))
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

	contract := "/console/contracts/" + demoContract
	cc0 := signIn(t, p0.url, key)
	waitUntil(t, "the console's 申请公证 on process 0", func() bool {
		page := cc0.get(contract)
		return strings.Contains(cc0.post(contract+"/notarize", page, url.Values{"office": {"notary.cluster.test"}}), "已申请公证")
	})
	var listed struct{ Requests []notary.RequestRecord }
	getJSON(t, office.url()+"/v1/requests", &listed)
	if len(listed.Requests) != 1 || listed.Requests[0].Status != notary.RequestVerified {
		t.Fatalf("the office holds %+v, want one verified request", listed.Requests)
	}
	id := listed.Requests[0].ID

	office.kill()
	if o, err := exec.Command(office.bin, "notary", "issue", id, "--data", filepath.Join(c.dir, "notary"), "--notary-name", "张公证员").CombinedOutput(); err != nil {
		t.Fatalf("notary issue: %v\n%s", err, o)
	}
	office.start()
	var rec notary.RequestRecord
	getJSON(t, office.url()+"/v1/requests/"+id, &rec)
	var leaf string
	waitUntil(t, "the cluster records the issue by itself", func() bool {
		leaf = notarizationLeaf(t, p1.url, "notarization.issued", id)
		return leaf != ""
	})
	if !strings.Contains(leaf, rec.CertificateSHA256) {
		t.Errorf("the issue's leaf lacks the certificate's SHA-256 %s: %s", rec.CertificateSHA256, leaf)
	}
	// The other process's console serves the 公证书 of a request made
	// through process 0.
	cc1 := signIn(t, p1.url, key)
	if pdf := cc1.getBytes(contract + "/notarizations/" + id + "/certificate.pdf?office=notary.cluster.test"); sha256Hex(pdf) != rec.CertificateSHA256 {
		t.Errorf("process 1 served a 公证书 with SHA-256 %s, want the office's %s", sha256Hex(pdf), rec.CertificateSHA256)
	}
	for i, s := range []*server{p0, p1} {
		s.mu.Lock()
		logs := s.stderr.String()
		s.mu.Unlock()
		// While the office is stopped to issue, a poll cannot reach it
		// (and says so); an office that does not know the request is
		// what each process's own built-in office answered before.
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, "asking the office about a notarisation request") && strings.Contains(line, "404") {
				t.Errorf("process %d asked an office that does not know the request: %s", i, line)
			}
		}
	}
}
