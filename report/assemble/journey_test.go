package assemble_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/evidencetest"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/assemble"
	"github.com/cunzheng/cunzheng/verify"
)

// rejectedBatch is an enterprise contract that one signer rejects and one
// that its sender revokes, with the reasons, an enterprise identity check
// whose subject is later erased, and events of the custody chain around.
const rejectedBatch = `{"events":[
{"id":"rj-sent","kind":"contract.sent","time":"2026-03-02T10:00:00+08:00","contract":{"id":"RJ-1","name":"采购合同"},
 "actor":{"account":"buyer@weiwei.example","name":"戴文潘","company":"伟伟集团","credit_code":"91330106MA2B2C3D4E","ip":"60.12.241.194"},
 "data":{"signers":2,"platform":"上上签","files":[{"name":"采购合同.pdf","sha256":"1111111111111111111111111111111111111111111111111111111111111111"}]}},
{"id":"rj-recv-a","kind":"contract.received","time":"2026-03-02T10:01:00+08:00","contract":{"id":"RJ-1"},
 "actor":{"account":"13911112222","name":"王小明","phone":"13911112222"}},
{"id":"rj-recv-b","kind":"contract.received","time":"2026-03-02T10:01:30+08:00","contract":{"id":"RJ-1"},
 "actor":{"account":"agent@supplier.example","name":"李经办","company":"杭州供应链有限公司","credit_code":"91330100MA27XYZ12Q"}},
{"id":"rj-id-b","kind":"identity.checked","time":"2026-03-02T10:02:00+08:00",
 "actor":{"account":"agent@supplier.example","name":"李经办","company":"杭州供应链有限公司","credit_code":"91330100MA27XYZ12Q"},
 "data":{"method":"enterprise4","source":"工商","result":"passed","ca":"BJCA","cert_serial":"0a0b0c0d"}},
{"id":"rj-recv-c","kind":"contract.received","time":"2026-03-02T10:01:40+08:00","contract":{"id":"RJ-1"},
 "actor":{"account":"13800001111","name":"赵六","phone":"13800001111"}},
{"id":"rj-id-c","kind":"identity.checked","time":"2026-03-02T10:02:10+08:00",
 "actor":{"account":"13800001111","name":"赵六","id_number":"330101199001011234","phone":"13800001111"},
 "data":{"method":"phone3","source":"运营商","result":"passed","ca":"CFCA","cert_serial":"0e0f1011"}},
{"id":"rj-reject","kind":"contract.rejected","time":"2026-03-02T10:05:00+08:00","contract":{"id":"RJ-1"},
 "actor":{"account":"13911112222","name":"王小明"},"data":{"reason":"金额与约定不符"}},
{"id":"rv-sent","kind":"contract.sent","time":"2026-03-03T09:00:00+08:00","contract":{"id":"RV-1","name":"租赁合同"},
 "actor":{"account":"buyer@weiwei.example","name":"戴文潘","company":"伟伟集团"},"data":{"signers":1}},
{"id":"rv-revoke","kind":"contract.revoked","time":"2026-03-03T09:30:00+08:00","contract":{"id":"RV-1"},
 "actor":{"account":"buyer@weiwei.example","name":"戴文潘"},"data":{"reason":"发错对象"}}
]}`

// TestRejectedEnterpriseContract is a legal team's view of contracts that
// never completed: 签署人数 as contract.sent recorded it, the status, the
// rejection and revocation reasons, no signing leaf for who never signed,
// the files as sent, the enterprise and its credit code, the tenant as the
// requester, an erased certificate serial shown as erased, and one event
// count in the index, the API view and the report.
func TestRejectedEnterpriseContract(t *testing.T) {
	ctx := context.Background()
	_, ev, _, demo, led, src := newDemoSource(t, true)
	p, err := ev.Authenticate(demo.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Ingest(ctx, p, []byte(rejectedBatch)); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Erase(ctx, p, "13800001111"); err != nil {
		t.Fatal(err)
	}
	led.publish(t)
	svc, err := report.New(report.Config{KeyDir: t.TempDir(), Source: src, Custody: assemble.Custody{Evidence: ev}})
	if err != nil {
		t.Fatal(err)
	}
	// A report issued first: custody must not change the event count.
	if _, _, err := svc.Issue(ctx, report.KindCertificate, demo.Tenant.ID, demo.Tenant.ID+"/legal", "RJ-1", false); err != nil {
		t.Fatal(err)
	}
	led.publish(t)

	c, err := src.Contract(ctx, demo.Tenant.ID, "RJ-1", true)
	if err != nil {
		t.Fatal(err)
	}
	if c.SignerCount != 2 || c.Status != report.StatusRejected || !c.FilesAsSent || len(c.Files) != 1 || c.Tenant != evidence.DemoTenantName {
		t.Errorf("signers %d status %q files as sent %v (%d) tenant %q", c.SignerCount, c.Status, c.FilesAsSent, len(c.Files), c.Tenant)
	}
	if len(c.Endings) != 1 || c.Endings[0].Reason.Value != "金额与约定不符" {
		t.Errorf("endings = %+v", c.Endings)
	}
	view, err := ev.Contract(p, "RJ-1")
	if err != nil {
		t.Fatal(err)
	}
	page, err := ev.Search(p, evidence.Query{Name: "采购"})
	if err != nil || len(page.Contracts) != 1 {
		t.Fatalf("search: %v %+v", err, page)
	}
	if c.EventCount != 5 || view.EventCount != 5 || page.Contracts[0].Events != 5 {
		t.Errorf("event counts: report %d, API %d, search %d; want 5 (sent, three received, rejected)", c.EventCount, view.EventCount, page.Contracts[0].Events)
	}

	for _, reveal := range []bool{false, true} {
		pdf, _, err := svc.Issue(ctx, report.KindCertificate, demo.Tenant.ID, demo.Tenant.ID+"/legal", "RJ-1", reveal)
		if err != nil {
			t.Fatal(err)
		}
		cert := layoutText(t, pdf)
		ev, _, err := svc.Issue(ctx, report.KindEvidence, demo.Tenant.ID, demo.Tenant.ID+"/legal", "RJ-1", reveal)
		if err != nil {
			t.Fatal(err)
		}
		evText := layoutText(t, ev)
		for _, re := range []string{`签署人数 Signers\s+2\b`, `已拒签 Rejected`, `杭州供应链有限公司`, `91330100MA27XYZ12Q`, `91330106MA2B2C3D4E`,
			`1111111111111111111111111111111111111111111111111111111111111111`, `Files as sent`} {
			if !regexp.MustCompile(re).MatchString(cert) {
				t.Errorf("certificate (reveal %v) lacks %s", reveal, re)
			}
		}
		if regexp.MustCompile(`签署事件叶子 Leaf\s+#0\b`).MatchString(cert) {
			t.Errorf("certificate (reveal %v) names leaf #0 for a signer who never signed", reveal)
		}
		if reveal && !strings.Contains(cert, "金额与约定不符") {
			t.Error("unmasked certificate lacks the rejection reason")
		}
		if !reveal && strings.Contains(cert, "金额与约定不符") {
			t.Error("masked certificate shows the free-text reason")
		}
		for _, re := range []string{`签署人数 Signers\s+2\b`, `事件数 Events\s+5\b`, `申请方 Requester\s+` + regexp.QuoteMeta(evidence.DemoTenantName),
			`杭州供应链有限公司`, `91330100MA27XYZ12Q`, `已销毁 erased`, `已拒签 Rejected`} {
			if !regexp.MustCompile(re).MatchString(evText) {
				t.Errorf("evidence report (reveal %v) lacks %s", reveal, re)
			}
		}
	}

	c, err = src.Contract(ctx, demo.Tenant.ID, "RV-1", true)
	if err != nil {
		t.Fatal(err)
	}
	if c.SignerCount != 1 || c.Status != report.StatusRevoked || len(c.Endings) != 1 || c.Endings[0].Reason.Value != "发错对象" {
		t.Errorf("revoked: signers %d status %q endings %+v", c.SignerCount, c.Status, c.Endings)
	}
}

func layoutText(t *testing.T, pdf []byte) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(needTool(t, "pdftotext"), "-layout", in, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestSeedFlowsShown records the seed's flows (every 实名认证 and 意愿认证
// method, person and enterprise, a failed check, a seal) and checks that
// the certificate page and the evidence report name every method in
// Chinese and English with its result, source and CA, show the personal
// facts only when unmasked, and the public ones always.
func TestSeedFlowsShown(t *testing.T) {
	ctx := context.Background()
	_, ev, _, demo, led, src := newDemoSource(t, true)
	p, err := ev.Authenticate(demo.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../../evidence/testdata/seed_flows.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Ingest(ctx, p, body); err != nil {
		t.Fatal(err)
	}
	led.publish(t)
	svc, err := report.New(report.Config{KeyDir: t.TempDir(), Source: src, Custody: assemble.Custody{Evidence: ev}})
	if err != nil {
		t.Fatal(err)
	}
	methods := []string{"银行卡四要素 Bank card 4-factor", "人脸识别 Face recognition", "手机身份认证 Mobile identity", "企业四要素 Enterprise 4-factor",
		"企业对公打款 Corporate remittance", "授权书认证 Authorization letter", "统一企业信息认证 Unified enterprise check",
		"活体识别 Liveness detection", "短信验证码校验 SMS code", "签约密码 Signing password", "动态令牌 OTP token"}
	public := []string{"未通过 Failed", "银联", "公安部", "工商", "CFCA", "BJCA", "ZJCA", "法定代表人", "经办人", "居民身份证", "0.93", "中国工商银行",
		"苏州工业园区支行", "江苏省苏州市", "0.37", "SEAL-HZ-001", "杭州供应链有限公司", "91330100MA27XYZ12Q"}
	personal := []string{"6222020200112233445", "13755550000", "1102020509000012345", "奥巴马", "0839", "杭州供应链有限公司苏州分公司"}
	dir := os.Getenv("CUNZHENG_ARTIFACTS")
	for _, reveal := range []bool{false, true} {
		var all string
		for _, kind := range []string{report.KindCertificate, report.KindEvidence} {
			pdf, _, err := svc.Issue(ctx, kind, demo.Tenant.ID, demo.Tenant.ID+"/legal", "SF-2026-0001", reveal)
			if err != nil {
				t.Fatal(err)
			}
			if dir != "" {
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%s-reveal-%v.pdf", kind, reveal)), pdf, 0o644)
			}
			all += layoutText(t, pdf)
		}
		flat := strings.Join(strings.Fields(all), " ")
		for _, want := range append(methods, public...) {
			if !strings.Contains(flat, want) {
				t.Errorf("reveal %v: documents lack %q", reveal, want)
			}
		}
		for _, v := range personal {
			if got := evidencetest.Shows([]byte(all), v); got != reveal {
				t.Errorf("reveal %v: documents show %q: %v", reveal, v, got)
			}
		}
	}
}

// TestOriginalInBundle: the original contract PDF the platform stored is
// in the bundle, and verify bundle checks its hash against the leaf that
// records it; a changed original fails.
func TestOriginalInBundle(t *testing.T) {
	ctx := context.Background()
	keys, ev, _, demo, led, src := newDemoSource(t, true)
	p, err := ev.Authenticate(demo.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	original := []byte("%PDF-1.7\n% the signed 供货合同 as the platform stored it\n%%EOF\n")
	sum := sha256.Sum256(original)
	h := hex.EncodeToString(sum[:])
	if _, err := ev.PutDocument(p, h, original); err != nil {
		t.Fatal(err)
	}
	batch := strings.ReplaceAll(`{"events":[
{"id":"og-sent","kind":"contract.sent","time":"2026-05-01T09:00:00+08:00","contract":{"id":"OG-1","name":"供货合同"},"actor":{"account":"s@example.com"},"data":{"signers":1}},
{"id":"og-done","kind":"contract.completed","time":"2026-05-01T10:00:00+08:00","contract":{"id":"OG-1"},"data":{"files":[{"name":"供货合同.pdf","sha256":"HASH"}]}}]}`, "HASH", h)
	if _, err := ev.Ingest(ctx, p, []byte(batch)); err != nil {
		t.Fatal(err)
	}
	led.publish(t)
	svc, err := report.New(report.Config{KeyDir: t.TempDir(), Source: src, Custody: assemble.Custody{Evidence: ev}})
	if err != nil {
		t.Fatal(err)
	}
	z, _, err := svc.Issue(ctx, report.KindBundle, demo.Tenant.ID, demo.Tenant.ID+"/legal", "OG-1", false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := verify.Bundle(z, bundleOptions(t, keys))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Manifest.Documents) != 1 || res.Manifest.Documents[0].SHA256 != h || res.Manifest.Documents[0].Name != "供货合同.pdf" {
		t.Fatalf("documents = %+v", res.Manifest.Documents)
	}
	// The same bundle with the original changed by one byte.
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == "contract/"+h+".pdf" {
			b = bytes.Replace(b, []byte("供货"), []byte("采购"), 1)
		}
		w, _ := zw.Create(f.Name)
		w.Write(b)
	}
	zw.Close()
	if _, err := verify.Bundle(out.Bytes(), bundleOptions(t, keys)); !errors.Is(err, verify.ErrBundleDigest) {
		t.Errorf("changed original: %v, want ErrBundleDigest", err)
	}
}
