package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cunzheng/cunzheng/evidence"
)

// TestClusterEvidence runs evidence in cluster mode as an operator would:
// a tenant created with the CLI in the cluster database, two serve
// processes taking the same events at once, each seeing the other's
// contracts, one erasing a subject the other then shows as erased.
func TestClusterEvidence(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL, an S3 server and two serve processes")
	}
	c := newTestCluster(t)
	key := c.createTenant(t)
	servers := []*server{c.serve(t, 0), c.serve(t, 1)}

	do := func(s *server, method, path string, body []byte) (int, []byte) {
		req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := appendClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	batch, err := os.ReadFile("../../evidence/testdata/demo_batch.json")
	if err != nil {
		t.Fatal(err)
	}
	// The same batch from four clients on each process at once.
	var wg sync.WaitGroup
	answers := make([]string, 8)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, b := do(servers[i%2], "POST", "/v1/events", batch)
			if code != http.StatusOK {
				t.Errorf("POST /v1/events on process %d: %d %s", i%2, code, b)
			}
			answers[i] = string(b)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var first struct {
		Receipts []evidence.Receipt `json:"receipts"`
	}
	if err := json.Unmarshal([]byte(answers[0]), &first); err != nil || len(first.Receipts) != 6 {
		t.Fatalf("receipts: %v %s", err, answers[0])
	}
	for i, a := range answers {
		if a != answers[0] {
			t.Errorf("client %d got other receipts:\n%s\nwant\n%s", i, a, answers[0])
		}
	}
	seen := map[uint64]bool{}
	for _, r := range first.Receipts {
		if seen[r.Index] {
			t.Errorf("two events at leaf %d", r.Index)
		}
		seen[r.Index] = true
	}

	contract := func(s *server) (view struct {
		Events []struct {
			Kind  string
			Index uint64
		}
	}) {
		code, b := do(s, "GET", "/v1/contracts/2125270852621565954", nil)
		if code != http.StatusOK {
			t.Fatalf("GET contract: %d %s", code, b)
		}
		if err := json.Unmarshal(b, &view); err != nil {
			t.Fatal(err)
		}
		return view
	}
	for i, s := range servers {
		if v := contract(s); len(v.Events) != 5 { // the identity check belongs to the person
			t.Errorf("process %d lists %d events of the contract: %+v", i, len(v.Events), v)
		}
		code, b := do(s, "GET", "/v1/contracts?account=18501775544", nil)
		if code != http.StatusOK || !strings.Contains(string(b), "2125270852621565954") {
			t.Errorf("process %d search by account: %d %s", i, code, b)
		}
	}

	// Erasure on process 1; process 0 no longer finds the person.
	code, erased := do(servers[1], "DELETE", "/v1/subjects/18501775544", nil)
	if code != http.StatusOK {
		t.Fatalf("DELETE subject: %d %s", code, erased)
	}
	code, b := do(servers[0], "GET", "/v1/contracts?account=18501775544", nil)
	if code != http.StatusOK || strings.Contains(string(b), "2125270852621565954") {
		t.Errorf("process 0 still finds the erased account: %d %s", code, b)
	}
	// Erasing again on process 0 answers the first erasure's receipt.
	code, b2 := do(servers[0], "DELETE", "/v1/subjects/18501775544", nil)
	if code != http.StatusOK || string(b2) != string(erased) {
		t.Errorf("second erasure on the other process: %d %s, want %s", code, b2, erased)
	}
	// A document stored through one process is read back through the
	// other; its ciphertext is in the object store, not its plaintext.
	doc := []byte("%PDF-1.7 劳动合同 signed by 叶建华 " + strings.Repeat("x", 4096))
	sum := sha256.Sum256(doc)
	sha := hex.EncodeToString(sum[:])
	req, _ := http.NewRequest("PUT", servers[0].url+"/v1/documents/"+sha, bytes.NewReader(doc))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/pdf")
	if resp, err := appendClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("PUT document: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if code, got := do(servers[1], "GET", "/v1/documents/"+sha, nil); code != http.StatusOK || !bytes.Equal(got, doc) {
		t.Errorf("GET document on the other process: %d, %d bytes", code, len(got))
	}
	list, err := c.s3.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(c.bucket), Prefix: aws.String("documents/")})
	if err != nil || len(list.Contents) != 1 || !strings.HasSuffix(aws.ToString(list.Contents[0].Key), "/"+sha) {
		t.Fatalf("documents in the bucket: %v, %v", list, err)
	}
	o, err := c.s3.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(c.bucket), Key: list.Contents[0].Key})
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := io.ReadAll(o.Body)
	o.Body.Close()
	if len(ct) < len(doc) || bytes.Contains(ct, []byte("叶建华")) || bytes.Contains(ct, []byte("%PDF")) {
		t.Errorf("the bucket's document object is not ciphertext (%d bytes)", len(ct))
	}
	for _, s := range servers {
		s.stop(t)
	}
	if t.Failed() {
		t.Logf("process 0:\n%s\nprocess 1:\n%s", servers[0].logs(), servers[1].logs())
	}
}

// TestClusterConsoleSessions: in cluster mode a console session lives in
// the cluster's database: signed in on one process, it works on another,
// survives a restart of the first, and signing out on one ends it on all.
func TestClusterConsoleSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL, an S3 server and two serve processes")
	}
	c := newTestCluster(t)
	key := c.createTenant(t)
	p0, p1 := c.serve(t, 0), c.serve(t, 1)

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	do := func(method, url string, form url.Values, cookies ...*http.Cookie) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, url, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	cookie := func(resp *http.Response, name string) *http.Cookie {
		t.Helper()
		for _, ck := range resp.Cookies() {
			if ck.Name == name && ck.Value != "" {
				return ck
			}
		}
		t.Fatalf("no %s cookie in %v", name, resp.Header["Set-Cookie"])
		return nil
	}
	signedIn := func(s *server, session *http.Cookie) (bool, string) {
		t.Helper()
		resp, body := do("GET", s.url+"/console", nil, session)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /console: %d %s", resp.StatusCode, body)
		}
		m := csrfRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no csrf field on /console")
		}
		return strings.Contains(body, `action="/console/logout"`), m[1]
	}

	// Sign in on process 0.
	resp, body := do("GET", p0.url+"/console", nil)
	login := cookie(resp, "cz_login")
	if m := csrfRE.FindStringSubmatch(body); m == nil || m[1] != login.Value {
		t.Fatalf("login form's csrf does not match its cookie")
	}
	resp, body = do("POST", p0.url+"/console/login", url.Values{"csrf": {login.Value}, "key": {key}}, login)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	session := cookie(resp, "cz_session")

	if ok, _ := signedIn(p1, session); !ok {
		t.Fatal("a session made on process 0 is unknown to process 1")
	}
	p0.stop(t)
	p0 = c.serve(t, 0)
	if ok, _ := signedIn(p0, session); !ok {
		t.Fatal("the session did not survive a restart of the process that made it")
	}
	if ok, _ := signedIn(p1, &http.Cookie{Name: "cz_session", Value: "not-a-session"}); ok {
		t.Fatal("a made-up session cookie signs in")
	}
	// Sign out on process 1: gone on process 0 too.
	_, csrf := signedIn(p1, session)
	resp, body = do("POST", p1.url+"/console/logout", url.Values{"csrf": {csrf}}, session)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d %s", resp.StatusCode, body)
	}
	if ok, _ := signedIn(p0, session); ok {
		t.Fatal("signed out on process 1, still signed in on process 0")
	}
}

// createTenant gives the test one master key, as every process of a
// cluster holds the same (in the environment the serve children inherit),
// creates the tenant 伟伟集团 in the cluster's database with the CLI, and
// returns its API key.
func (c *testCluster) createTenant(t *testing.T) string {
	t.Helper()
	master, err := evidence.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(evidence.MasterKeyEnv, master.Hex())
	out := cunzheng(t, "tenant", "create", "--data", c.dataDir(t, 9), "--cluster-db", c.dsn, "--name", "伟伟集团")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}
