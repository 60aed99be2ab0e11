package notary

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// TestAuthorizeFetch: the full record of a request goes to the log that
// made it, with a fresh fetch note of that request signed by the key the
// office follows it by; anything else is refused with the reason's error.
func TestAuthorizeFetch(t *testing.T) {
	ctx := context.Background()
	lg := newTestLog(t, "cunzheng.example/log")
	second := newTestLog(t, "second.example/log")
	o := newTestOffice(t, t.TempDir(), lg.logKey(), second.logKey())
	defer o.Close()
	bundle := []byte("PK not a zip")
	msg, err := SignRequest(testRequest(o.Name(), bundle), lg.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Receive(ctx, msg, bundle); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 16, 0, 0, 0, time.UTC)
	header := func(origin, id string, at time.Time, signers ...note.Signer) string {
		h, err := LogAuth{Origin: origin, Signers: signers}.Header(id, at)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	stranger := newTestLog(t, "cunzheng.example/log")
	good := header(lg.Origin, "NR-1", now, lg.Signer)
	b64 := strings.TrimPrefix(good, FetchAuthScheme+" ")
	raw, _ := base64.StdEncoding.DecodeString(b64)
	for name, tc := range map[string]struct {
		header, id string
		want       error
	}{
		"the requesting log":       {good, "NR-1", nil},
		"scheme in lower case":     {"cunzheng-log " + b64, "NR-1", nil},
		"a minute early":           {header(lg.Origin, "NR-1", now.Add(time.Minute), lg.Signer), "NR-1", nil},
		"no header":                {"", "NR-1", ErrUnauthorized},
		"basic":                    {"Basic eDp5", "NR-1", ErrUnauthorized},
		"not base64":               {FetchAuthScheme + " %%%", "NR-1", ErrMalformed},
		"not a note":               {FetchAuthScheme + " " + base64.StdEncoding.EncodeToString([]byte("hello")), "NR-1", ErrMalformed},
		"another request's note":   {good, "NR-2", ErrBadSignature},
		"stale":                    {header(lg.Origin, "NR-1", now.Add(-FetchAuthSkew-time.Second), lg.Signer), "NR-1", ErrBadSignature},
		"from the future":          {header(lg.Origin, "NR-1", now.Add(FetchAuthSkew+time.Second), lg.Signer), "NR-1", ErrBadSignature},
		"another key, same name":   {header(lg.Origin, "NR-1", now, stranger.Signer), "NR-1", ErrBadSignature},
		"another log it follows":   {header(second.Origin, "NR-1", now, second.Signer), "NR-1", ErrBadSignature},
		"a log it does not know":   {header("elsewhere.example/log", "NR-1", now, lg.Signer), "NR-1", ErrUnknownLog},
		"an unknown request":       {header(lg.Origin, "NR-9", now, lg.Signer), "NR-9", ErrNotFound},
		"id changed after signing": {FetchAuthScheme + " " + base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(raw), "id NR-1", "id NR-2", 1))), "NR-2", ErrBadSignature},
	} {
		err := o.AuthorizeFetch(ctx, tc.header, tc.id, now)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}

// TestPublicRecord: the public view of a request keeps what the log's
// public leaves say, and drops what names the contract or a person.
func TestPublicRecord(t *testing.T) {
	rec := RequestRecord{Request: testRequest("office", []byte("b")), Note: "note", ReceivedAt: time.Unix(1, 0), Status: RequestIssued,
		ContractNumber: "2125270852621565954", Reason: "r", Checks: []string{"manifest: report CZ-1, contract 2125270852621565954"}, Events: 8, CheckpointSize: 9,
		CertificateSHA256: "ab", IssuedAt: time.Unix(2, 0), IssuedBy: "张公证员"}
	p := rec.Public()
	want := RequestRecord{Request: rec.Request, Note: "note", ReceivedAt: rec.ReceivedAt, Status: RequestIssued, CertificateSHA256: "ab", IssuedAt: rec.IssuedAt}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Public() = %+v\nwant %+v", p, want)
	}
	// Every field of RequestRecord is decided: a new one must be added to
	// Public or to this list of private ones.
	private := map[string]bool{"ContractNumber": true, "Reason": true, "Checks": true, "Events": true, "CheckpointSize": true, "IssuedBy": true}
	public := map[string]bool{"Request": true, "Note": true, "ReceivedAt": true, "Status": true, "CertificateSHA256": true, "IssuedAt": true}
	rt := reflect.TypeFor[RequestRecord]()
	for i := range rt.NumField() {
		if f := rt.Field(i).Name; !private[f] && !public[f] {
			t.Errorf("RequestRecord.%s is neither public nor private in this test", f)
		}
	}
}

// TestStaff: a person added to the staff file signs in with the token
// printed once; a new token replaces the old; a removed person, a wrong
// token and an office without a staff file let nobody in.
func TestStaff(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "staff")
	lg := newTestLog(t, "cunzheng.example/log")
	o := newTestOffice(t, filepath.Join(dir, "store"), lg.logKey())
	defer o.Close()
	o.staffFile = path
	if o.StaffSignIn("zhang", "czs_x") {
		t.Fatal("signed in without a staff file")
	}
	tok, err := AddStaff(path, "zhang")
	if err != nil {
		t.Fatal(err)
	}
	tokLi, err := AddStaff(path, "li")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, staffTokenPrefix) || !o.StaffSignIn("zhang", tok) || !o.StaffSignIn("li", tokLi) {
		t.Fatal("staff cannot sign in with their tokens")
	}
	for name, c := range map[string][2]string{"wrong token": {"zhang", tokLi}, "wrong name": {"wang", tok}, "empty token": {"zhang", ""}, "empty name": {"", tok}} {
		if o.StaffSignIn(c[0], c[1]) {
			t.Errorf("%s: signed in", name)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("staff file mode: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), tok) {
		t.Error("the staff file holds the token itself")
	}
	tok2, err := AddStaff(path, "zhang")
	if err != nil || o.StaffSignIn("zhang", tok) || !o.StaffSignIn("zhang", tok2) {
		t.Errorf("a new token for zhang: old still works or new does not (%v)", err)
	}
	if ok, err := RemoveStaff(path, "zhang"); !ok || err != nil || o.StaffSignIn("zhang", tok2) || !o.StaffSignIn("li", tokLi) {
		t.Errorf("removing zhang: %v %v", ok, err)
	}
	if ok, err := RemoveStaff(path, "zhang"); ok || err != nil {
		t.Errorf("removing zhang twice: %v %v", ok, err)
	}
	for _, bad := range []string{"", "a b", "a:b", strings.Repeat("x", 65)} {
		if _, err := AddStaff(path, bad); err == nil || !strings.Contains(err.Error(), "staff name") {
			t.Errorf("AddStaff(%q): %v", bad, err)
		}
	}
	if err := os.WriteFile(path, []byte("zhang not-a-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.StaffSignIn("zhang", "x") {
		t.Error("signed in with a broken staff file")
	}
	if _, err := AddStaff(path, "wang"); err == nil {
		t.Error("AddStaff rewrote a broken staff file")
	}
}
