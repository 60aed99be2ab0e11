package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"mime/multipart"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/notary"
)

// TestOfficeRequests: POST /v1/requests refuses what is not a request of
// the log the office follows, keeps a request whose bundle fails the
// office's checks as refused with the reason, and /requests shows it.
func TestOfficeRequests(t *testing.T) {
	lg := newWitnessLog(t)
	o, tsa := newTestNotary(t, lg)
	h := NotaryHandler(o, tsa, nil, nil)
	post := func(fields map[string][]byte) (int, string) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for name, data := range fields {
			w, _ := mw.CreateFormFile(name, name)
			w.Write(data)
		}
		mw.Close()
		w := do(t, h, "POST", "/v1/requests", mw.FormDataContentType(), body.Bytes())
		return w.Code, w.Body.String()
	}
	bundle := []byte("PK not a zip")
	sum := sha256.Sum256(bundle)
	r := notary.Request{Origin: "cunzheng.example/log", ID: "NR-7", Contract: "c_1", Office: o.Name(),
		Time: time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC), BundleSHA256: hex.EncodeToString(sum[:])}
	msg, err := notary.SignRequest(r, lg.signer)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		fields map[string][]byte
		code   int
	}{
		"no bundle":      {map[string][]byte{"request": msg}, 400},
		"no request":     {map[string][]byte{"bundle": bundle}, 400},
		"swapped bundle": {map[string][]byte{"request": msg, "bundle": []byte("other")}, 400},
		"unsigned":       {map[string][]byte{"request": []byte(r.Text()), "bundle": bundle}, 400},
		"forged":         {map[string][]byte{"request": bytes.Replace(msg, []byte("NR-7"), []byte("NR-8"), 1), "bundle": bundle}, 403},
	} {
		if code, body := post(tc.fields); code != tc.code {
			t.Errorf("%s: %d %s, want %d", name, code, body, tc.code)
		}
	}
	if w := do(t, h, "POST", "/v1/requests", "text/plain", []byte("x")); w.Code != 400 {
		t.Errorf("not multipart: %d", w.Code)
	}

	code, body := post(map[string][]byte{"request": msg, "bundle": bundle})
	var rec notary.RequestRecord
	if code != 200 || json.Unmarshal([]byte(body), &rec) != nil || rec.Status != notary.RequestRefused || rec.Reason == "" {
		t.Fatalf("a broken bundle: %d %s", code, body)
	}
	page := do(t, h, "GET", "/requests", "", nil).Body.String()
	for _, want := range []string{"NR-7", "已拒绝", "c_1", "/staff/requests"} {
		if !strings.Contains(page, want) {
			t.Errorf("/requests lacks %q", want)
		}
	}
	if w := do(t, h, "GET", "/v1/requests/NR-7", "", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"refused"`) {
		t.Errorf("/v1/requests/NR-7: %d %s", w.Code, w.Body)
	}
	for path, want := range map[string]int{"/v1/requests/NR-9": 404, "/requests/NR-7/certificate.pdf": 401, "/v1/requests": 200, "/staff/requests": 401} {
		if w := do(t, h, "GET", path, "", nil); w.Code != want {
			t.Errorf("GET %s: %d, want %d", path, w.Code, want)
		}
	}
}

// TestOfficeRequestsPrivate: a stranger reaching the office reads only
// what the log's public leaves say of a request; the office's checks, the
// refusal's reason and the 公证书 go to the office's staff (HTTP Basic with
// a token of the staff file) and to the log that made the request (a
// fetch note signed by its key), not to a stranger, another key or a
// stale note.
func TestOfficeRequestsPrivate(t *testing.T) {
	lg := newWitnessLog(t)
	dir := t.TempDir()
	skey, err := notary.LoadOrCreateKey(filepath.Join(dir, "notary.key"), "notary.test")
	if err != nil {
		t.Fatal(err)
	}
	v, err := tlogfmt.NewVerifier(lg.vkey)
	if err != nil {
		t.Fatal(err)
	}
	staffFile := filepath.Join(dir, "staff")
	o, err := notary.Open(context.Background(), notary.Config{Dir: filepath.Join(dir, "db"), Key: skey,
		Logs: []notary.LogKey{{Origin: v.Name(), Verifier: v}}, StaffFile: staffFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	token, err := notary.AddStaff(staffFile, "zhang")
	if err != nil {
		t.Fatal(err)
	}
	h := NotaryHandler(o, nil, nil, nil)
	bundle := []byte("PK not a zip")
	sum := sha256.Sum256(bundle)
	r := notary.Request{Origin: v.Name(), ID: "NR-7", Contract: "c_1", Office: o.Name(),
		Time: time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC), BundleSHA256: hex.EncodeToString(sum[:])}
	msg, err := notary.SignRequest(r, lg.signer)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := o.Receive(context.Background(), msg, bundle)
	if err != nil || rec.Reason == "" || len(rec.Checks) != 0 && rec.Checks[0] == "" {
		t.Fatalf("receiving: %+v %v", rec, err)
	}
	other := newWitnessLog(t)
	logAuth := func(s note.Signer, id string, at time.Time) string {
		hv, err := notary.LogAuth{Origin: v.Name(), Signers: []note.Signer{s}}.Header(id, at)
		if err != nil {
			t.Fatal(err)
		}
		return hv
	}
	basic := func(name, tok string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(name+":"+tok))
	}
	get := func(path, auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	// What only the full record says: the reason (and on a verified
	// request the checks, whose manifest line names the contract number).
	private := []string{`"reason"`, "verification failed"}
	for name, tc := range map[string]struct {
		path, auth string
		code       int
		full       bool
	}{
		"page, stranger":           {"/requests", "", 200, false},
		"page, staff":              {"/requests", basic("zhang", token), 200, true},
		"page, wrong token":        {"/requests", basic("zhang", token+"x"), 200, false},
		"staff page, stranger":     {"/staff/requests", "", 401, false},
		"staff page, wrong token":  {"/staff/requests", basic("zhang", "czs_nope"), 401, false},
		"staff page, staff":        {"/staff/requests?lang=en", basic("zhang", token), 200, true},
		"list, stranger":           {"/v1/requests", "", 200, false},
		"list, the log's note":     {"/v1/requests", logAuth(lg.signer, "NR-7", time.Now()), 200, false},
		"list, staff":              {"/v1/requests", basic("zhang", token), 200, true},
		"one, stranger":            {"/v1/requests/NR-7", "", 200, false},
		"one, the log":             {"/v1/requests/NR-7", logAuth(lg.signer, "NR-7", time.Now()), 200, true},
		"one, staff":               {"/v1/requests/NR-7", basic("zhang", token), 200, true},
		"one, another key":         {"/v1/requests/NR-7", logAuth(other.signer, "NR-7", time.Now()), 403, false},
		"one, another request's":   {"/v1/requests/NR-7", logAuth(lg.signer, "NR-8", time.Now()), 403, false},
		"one, a stale note":        {"/v1/requests/NR-7", logAuth(lg.signer, "NR-7", time.Now().Add(-time.Hour)), 403, false},
		"certificate, stranger":    {"/requests/NR-7/certificate.pdf", "", 401, false},
		"certificate, another key": {"/requests/NR-7/certificate.pdf", logAuth(other.signer, "NR-7", time.Now()), 403, false},
		"certificate, the log":     {"/requests/NR-7/certificate.pdf", logAuth(lg.signer, "NR-7", time.Now()), 404, false},
		"certificate, staff":       {"/staff/requests/NR-7/certificate.pdf", basic("zhang", token), 404, false},
		"certificate, staff page":  {"/staff/requests/NR-7/certificate.pdf", "", 401, false},
	} {
		w := get(tc.path, tc.auth)
		body := w.Body.String()
		if w.Code != tc.code {
			t.Errorf("%s: %d, want %d: %.300s", name, w.Code, tc.code, body)
			continue
		}
		if w.Code == 401 && (w.Header().Get("WWW-Authenticate") == "" || !strings.Contains(body, "cunzheng notary staff add")) {
			t.Errorf("%s: 401 without the Basic challenge or how to get a token: %v %s", name, w.Header(), body)
		}
		if w.Code != 200 {
			continue
		}
		shown := false
		for _, p := range private {
			shown = shown || strings.Contains(body, p)
		}
		if shown != tc.full {
			t.Errorf("%s: private fields shown = %v, want %v:\n%.600s", name, shown, tc.full, body)
		}
		if !strings.Contains(body, "NR-7") || !strings.Contains(body, "c_1") {
			t.Errorf("%s: the public fields are missing", name)
		}
	}
	if page := get("/staff/requests", basic("zhang", token)).Body.String(); !strings.Contains(page, "zhang") || !strings.Contains(page, "cunzheng notary issue REQUEST") {
		t.Errorf("the staff page does not name who is signed in or how to issue")
	}
}
