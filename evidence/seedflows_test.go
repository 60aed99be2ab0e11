package evidence_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	evt "github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/evidence/evidencetest"
)

// TestSeedFlowsSealed records one contract using every 实名认证 and 意愿认证
// method of the seed (person and enterprise, a failed check, the seal on
// contract.signed) and checks that no personal value of them is in a
// public leaf or a log line, that each is sealed and opens to its value
// against its commitment, and that the public facts stay public.
func TestSeedFlowsSealed(t *testing.T) {
	e := newEnvOn(t, embedded)
	ctx := context.Background()
	body, err := os.ReadFile("testdata/seed_flows.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Ingest(ctx, e.p, body); err != nil {
		t.Fatal(err)
	}
	public := bytes.Join(e.log.Leaves(), []byte("\n"))
	public = append(public, e.logBuf.Bytes()...)
	sealed := map[string]string{
		"data.ocr":                             "姓名周子涵 公民身份号码330102199203034567",
		"data.card_number":                     "6222020200112233445",
		"data.reserved_phone":                  "13755550000",
		"data.id_front_sha256":                 "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
		"data.id_back_sha256":                  "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2",
		"data.face.digits":                     "0839",
		"data.face.video_sha256":               "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3",
		"data.face.photo_sha256":               "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4",
		"data.licence_ocr":                     "杭州供应链有限公司 法定代表人王武",
		"data.remittance.account_name":         "杭州供应链有限公司苏州分公司",
		"data.remittance.account_number":       "1102020509000012345",
		"data.authorization.authorized_person": "奥巴马",
	}
	for _, s := range append(mapValues(sealed), "周子涵", "王武", "330102199203034567", "330103197805051236", "13755556666",
		"杭州供应链有限公司", "91330100MA27XYZ12Q", "5172", "0707070707070707070707070707070707070707070707070707070707070707",
		"7a7b7c7d7e7f", "abcdef01", "5e5f6061", "SF-2026-0001", "供货框架合同") {
		// The short ones (face digits 0839, 5172) only on their own:
		// they turn up by chance in the hex of hashes and salts.
		if i := evidencetest.Index(public, s); i >= 0 {
			t.Errorf("public bytes contain %q: …%s…", s, public[max(0, i-80):min(len(public), i+80)])
		}
	}
	for _, s := range []string{`"method":"remittance"`, `"bank":"中国工商银行"`, `"amount":"0.37"`, `"similarity":0.93`, `"role":"authorized"`,
		`"letter_sha256":"f6f6`, `"seal":{"id":"SEAL-HZ-001"`, `"method":"liveness"`, `"id_type":"resident_id"`} {
		if !bytes.Contains(public, []byte(s)) {
			t.Errorf("public leaves lack %s", s)
		}
	}
	_, recs, err := e.svc.Records(ctx, e.p, "SF-2026-0001", func(_ context.Context, i uint64) ([]byte, error) { return e.log.Leaves()[i], nil })
	if err != nil {
		t.Fatal(err) // Records checks every opened field against its commitment
	}
	got := map[string]string{}
	for _, r := range recs {
		if r.Kind != evt.KindIdentityChecked {
			continue // the intent's face digits and video share the paths
		}
		for p, f := range r.Opened.Fields {
			if _, ok := sealed[p]; ok {
				got[p] = f.Value
			}
		}
	}
	for p, want := range sealed {
		if got[p] != want {
			t.Errorf("sealed %s opens to %q, want %q", p, got[p], want)
		}
	}
	// A malformed card number is refused with the path named.
	bad := bytes.Replace(body, []byte(`"card_number":"6222020200112233445"`), []byte(`"card_number":"6222-0202"`), 1)
	bad = bytes.ReplaceAll(bad, []byte(`"id":"sf-`), []byte(`"id":"bad-`))
	if _, err := e.svc.Ingest(ctx, e.p, bad); err == nil {
		t.Error("a malformed card number was accepted")
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
