package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime/multipart"
	"strings"
	"testing"
	"time"

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
	for _, want := range []string{"NR-7", "已拒绝", "拒绝理由", "c_1", "cunzheng notary issue REQUEST"} {
		if !strings.Contains(page, want) {
			t.Errorf("/requests lacks %q", want)
		}
	}
	if w := do(t, h, "GET", "/v1/requests/NR-7", "", nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"refused"`) {
		t.Errorf("/v1/requests/NR-7: %d %s", w.Code, w.Body)
	}
	for path, want := range map[string]int{"/v1/requests/NR-9": 404, "/requests/NR-7/certificate.pdf": 404, "/v1/requests": 200} {
		if w := do(t, h, "GET", path, "", nil); w.Code != want {
			t.Errorf("GET %s: %d, want %d", path, w.Code, want)
		}
	}
}
