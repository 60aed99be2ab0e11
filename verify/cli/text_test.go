package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/report/reporttest"
	"github.com/cunzheng/cunzheng/verify"
)

var update = flag.Bool("update", false, "rewrite the golden text outputs in testdata")

var (
	han = regexp.MustCompile(`\p{Han}`)
	// englishWord is a word of English prose; codes (TOTAL-PASSED, CRL),
	// hashes and numbers are not.
	englishWord = regexp.MustCompile(`\b[A-Za-z][a-z]{2,}\b`)
	// label is the bilingual label a line starts with: "问题 Problem:".
	label = regexp.MustCompile(`^[\p{Han}]+ [A-Z][A-Za-z0-9 -]*:\s*`)
	// exempt are values that are names, not words: a certificate's
	// subject or issuer (CN=Cunzheng Test RSA Root), the algorithm's
	// standard name, the signer's name; and the file name line.
	exemptLabels = regexp.MustCompile(`^(证书 Certificate|颁发者 Issuer|算法 Algorithm|签名 Signature \d+|文档时间戳 Document timestamp \d+):`)
	// technical are parts of a value that are not prose: an x509 error
	// quoted in parentheses after its Chinese, a flag, a PDF name, the
	// names of the keys that signed a checkpoint.
	technical = regexp.MustCompile(`（x509:[^）]*）|--[a-z-]+|/[A-Za-z]+|"[^"]*"|签名方 [^）]*`)
)

// englishOnly returns the lines of out that a reader without English
// could not read: a line whose value (after its bilingual label, and
// after names that are not words) has English words but no Chinese before
// the first of them. An English line is allowed right under a Chinese
// sentence it translates: a line whose value is Chinese with no English
// word of its own. The first line (the file's path) is exempt.
func englishOnly(out string) []string {
	var bad []string
	prevChinese := false
	for i, line := range strings.Split(out, "\n") {
		if i == 0 {
			continue
		}
		t := strings.TrimSpace(line)
		if exemptLabels.MatchString(t) {
			prevChinese = false
			continue
		}
		v := technical.ReplaceAllString(label.ReplaceAllString(t, ""), "")
		w := englishWord.FindStringIndex(v)
		switch {
		case w == nil:
			prevChinese = han.MatchString(v)
		case han.MatchString(v[:w[0]]):
			prevChinese = false
		case prevChinese:
			prevChinese = false // the English of the sentence above (it may name a Chinese signer)
		default:
			bad = append(bad, line)
			prevChinese = false
		}
	}
	return bad
}

// TestEnglishOnlyRule checks the rule on the lines the walk-through found.
func TestEnglishOnlyRule(t *testing.T) {
	for _, tt := range []struct {
		out  string
		want int
	}{
		{"f.pdf\n  问题 Problem:       the signed bytes were changed", 1},
		{"f.pdf\n  event: leaf 3 contract.signed 2026-12-05T00:00:00Z (proof checked)", 1},
		{"f.pdf\n存证 Ledger: record found but not verified: no ledger verifier keys configured", 1},
		{"f.pdf\n  签名后修改 Change:  revision 3, signature object 1 (允许 allowed)", 1},
		{"f.pdf\n签名有效。\nThe signature is valid.", 0},
		{"f.pdf\n问题 Problem: 签名值无法验证 — the signature value does not verify", 0},
		{"f.pdf\n结论 Verdict:   TOTAL-PASSED\nThe signature is valid.", 1},
	} {
		if got := englishOnly(tt.out); len(got) != tt.want {
			t.Errorf("englishOnly(%q) = %q, want %d lines", tt.out, got, tt.want)
		}
	}
}

// TestTextOutputChineseFirst runs verify pdf on files of every verdict and
// prints reports with ledger records of every kind, and fails on any line
// a reader without English could not read.
func TestTextOutputChineseFirst(t *testing.T) {
	const dir = "../../testdata/pdf/"
	files := []struct {
		name string
		args []string
		want []string
	}{
		{"passed", []string{dir + "sm2-tsa.pdf", "--trust-roots", dir + "roots", "--system-roots=false"}, []string{"结论 Verdict:          TOTAL-PASSED"}},
		{"passed with changes", []string{dir + "two-sigs.pdf", "--trust-roots", dir + "roots"}, []string{"签名后修改 Change:  第 3 版 新增签名 对象 1（允许） — revision 3, signature object 1 (allowed)"}},
		{"failed", []string{dir + "byte-flip.pdf", "--trust-roots", dir + "roots"}, []string{"问题 Problem:       签名覆盖的内容被改动"}},
		{"indeterminate", []string{dir + "rsa-sha256-tsa.pdf"}, []string{"问题 Problem:       签名者证书不能追溯到受信任的根证书"}},
		{"changed not allowed", []string{dir + "docmdp2-annotation.pdf", "--trust-roots", dir + "roots"}, []string{"认证签名 DocMDP:    P=2（", "（不允许） — revision"}},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			var out bytes.Buffer
			PDF(context.Background(), "cunzheng verify", f.args, &out)
			checkChineseFirst(t, out.String(), f.want)
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), "cunzheng verify", []string{"pdf", dir + "generate.sh"}, &stdout, &stderr); code != ExitUnreadable {
			t.Fatalf("exit %d, want %d", code, ExitUnreadable)
		}
		line := strings.TrimPrefix(stderr.String(), "cunzheng verify: ")
		checkChineseFirst(t, "-\n"+stdout.String()+line, []string{"无法读取该PDF文件 not a readable PDF file"})
	})

	signed := time.Date(2026, 12, 1, 2, 3, 4, 0, time.UTC)
	events := []verify.LedgerEvent{
		{LeafIndex: 3, Kind: "identity.checked", Time: signed.Add(-time.Hour), ProofOK: true},
		{LeafIndex: 4, Kind: "contract.signed", Time: signed, ProofOK: true},
		{LeafIndex: 5, Kind: "contract.completed", Time: signed.Add(time.Minute), Problem: "inclusion proof: hash mismatch"},
		{LeafIndex: 6, Kind: "something.new", Time: signed.Add(2 * time.Minute), ProofOK: true},
	}
	records := []struct {
		name string
		r    verify.LedgerRecord
		want []string
		// revision puts the record on the file's first revision (a
		// contract signed last by the platform), not on the file.
		revision bool
	}{
		{"signed with events", verify.LedgerRecord{Kind: "contract.signed", SignedAt: signed, LeafIndex: 4, TreeSize: 9, ProofOK: true, SignedBy: []string{"cunzheng.example/log", "notary-1"}, ContractNumber: "HT-1", Events: events}, []string{
			"存证 Ledger: 于 2026-12-01 10:03:04 +08:00 通过平台签署（签署合同）",
			"事件 Event: 第 4 条 leaf 4, 签署合同 contract signed (contract.signed), 2026-12-01 10:03:04 +08:00（包含证明已校验 proof checked）",
			"事件 Event: 第 5 条 leaf 5, 合同签署完成 contract completed (contract.completed), 2026-12-01 10:04:04 +08:00（未能校验 NOT verified: 包含证明无法验证（hash mismatch） — inclusion proof: hash mismatch）",
			"未知事件 something.new",
		}, false},
		{"issued", verify.LedgerRecord{Kind: "report.issued", Report: "CZ-2026-1", ReportDocument: "evidence-report", SignedAt: signed, LeafIndex: 7, TreeSize: 9, ProofOK: true, SignedBy: []string{"log"}}, []string{"报告编号 CZ-2026-1（证据报告）", "(evidence report)"}, false},
		{"recorded only", verify.LedgerRecord{Kind: "contract.sent", SignedAt: signed, LeafIndex: 2, TreeSize: 9, ProofOK: true, SignedBy: []string{"log"}}, []string{"记录（发送合同），此记录本身不表示已签署"}, false},
		{"found not verified", verify.LedgerRecord{Kind: "contract.signed", Leaf: []byte("leaf"), Problem: "no ledger verifier keys configured"}, []string{
			"存证 Ledger: 存证日志返回了记录，但未能校验 record found but not verified: 未配置存证日志的验证公钥 — no ledger verifier keys configured"}, false},
		{"pending", verify.LedgerRecord{Problem: verify.ErrPending.Error()}, []string{"已记录在存证日志中，正在等待下一个检查点"}, false},
		{"lookup failed", verify.LedgerRecord{Problem: "ledger lookup failed: connection refused"}, []string{"未能查询存证日志 the log could not be queried: 查询存证日志失败（connection refused）"}, false},
		{"first revision signed", verify.LedgerRecord{Kind: "contract.signed", SignedAt: signed, LeafIndex: 4, TreeSize: 9, ProofOK: true, SignedBy: []string{"cunzheng.example/log"}, Events: events[1:2]}, []string{
			"该文件的第 1 版（此后的修订不在该记录之内） Revision 1 of this file",
			"  版本摘要 SHA-256:  4bd4f6b4",
			"  存证 Ledger: 于 2026-12-01 10:03:04 +08:00 通过平台签署（签署合同）",
		}, true},
	}
	for _, rc := range records {
		t.Run("ledger "+rc.name, func(t *testing.T) {
			r := rc.r
			sig := r
			rep := &verify.Report{
				Verdict:    verify.Verdict{Indication: verify.TotalPassed, Message: verify.Text{ZH: "该PDF文件已签名且所有签名都有效。", EN: "The PDF is signed and all signatures are valid."}},
				FileSHA256: "9686a6683fb4477601dc214691f6af008fe57a5870ec57d2740620782be6dc41",
				Ledger:     &r,
				Signatures: []*verify.Signature{{Index: 1, Kind: "signature", Ledger: &sig,
					Verdict: verify.Verdict{Indication: verify.TotalPassed, Message: verify.Text{ZH: "签名有效。", EN: "The signature is valid."}}}},
			}
			if rc.revision {
				rev := r
				rep.Ledger, rep.Signatures[0].Ledger = nil, nil
				rep.RevisionLedger = []verify.RevisionRecord{{Revision: 1, SHA256: "4bd4f6b4b3d18ba0d2e25e6b1c79b1e0b0b4d6a1a8b0b0a6f0c2b6a9e7d1c3f5", Ledger: &rev}}
			}
			var out bytes.Buffer
			writeReport(&out, "contract.pdf", rep)
			checkChineseFirst(t, out.String(), rc.want)
			golden(t, "ledger-"+strings.ReplaceAll(rc.name, " ", "-")+".txt", out.String())
		})
	}
}

// golden compares out with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, out string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no golden output (run with -update): %v", err)
	}
	if string(want) != out {
		t.Errorf("output differs from %s (rerun with -update and review the diff):\n%s", path, out)
	}
}

func checkChineseFirst(t *testing.T, out string, want []string) {
	t.Helper()
	for _, line := range englishOnly(out) {
		t.Errorf("line without Chinese first: %q", line)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestBundleTextChineseFirst: each check verify bundle prints, passed or
// failed, starts with its Chinese name.
func TestBundleTextChineseFirst(t *testing.T) {
	f, z, err := reporttest.Bundle(reporttest.Options{Reveal: true}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(t.TempDir(), "good.zip")
	if err := os.WriteFile(good, z, 0o600); err != nil {
		t.Fatal(err)
	}
	pinned := []string{good, "--log-key", f.LogVKey}
	for _, n := range f.Notaries {
		pinned = append(pinned, "--notary-key", n.VKey)
	}
	other, err := reporttest.Build(reporttest.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"pinned", pinned, []string{"通过 ok    压缩包  zip:", "通过 ok    叶子 ", "（签署合同）  leaf ", "结论 PASS  证据包 CZ-1 已用指定的公钥校验通过"}},
		{"unpinned", []string{good}, []string{"未指定公钥", "NOT pinned"}},
		{"wrong key", []string{good, "--log-key", other.LogVKey}, []string{"失败 FAIL  检查点 ", "原因 Reason: 检查点的签名不能用本平台公布的日志公钥验证"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			Bundle(context.Background(), "cunzheng verify", tt.args, &out)
			checkChineseFirst(t, "-\n"+out.String(), tt.want)
		})
	}
}

// TestJSONUnchanged: --json prints verify's report as it is, English keys
// and verify's own English values, none of the text output's wording.
func TestJSONUnchanged(t *testing.T) {
	const dir = "../../testdata/pdf/"
	for _, name := range []string{"two-sigs.pdf", "byte-flip.pdf"} {
		var out bytes.Buffer
		PDF(context.Background(), "cunzheng verify", []string{"--json", "--trust-roots", dir + "roots", dir + name}, &out)
		roots, err := verify.LoadRoots(dir+"roots", false)
		if err != nil {
			t.Fatal(err)
		}
		file, err := os.Open(dir + name)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := file.Stat()
		rep, err := verify.PDF(context.Background(), file, st.Size(), verify.Options{Roots: roots, SystemRoots: true, MaxSize: verify.DefaultMaxSize})
		file.Close()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		checked := regexp.MustCompile(`"checkedAt": "[^"]*"`)
		got := checked.ReplaceAllString(out.String(), "")
		if w := checked.ReplaceAllString(string(want), "") + "\n"; got != w {
			t.Errorf("%s: --json is not verify's report:\n%s\nwant:\n%s", name, got, w)
		}
		for _, never := range []string{" — ", "问题", "签名后修改", "新增签名 "} {
			if strings.Contains(got, never) {
				t.Errorf("%s: --json holds the text output's %q", name, never)
			}
		}
	}
	var out bytes.Buffer
	PDF(context.Background(), "cunzheng verify", []string{"--json", "--trust-roots", dir + "roots", dir + "byte-flip.pdf"}, &out)
	if !strings.Contains(out.String(), `"the signed bytes were changed: their digest does not match the signature"`) {
		t.Errorf("--json lost verify's English problem:\n%s", out.String())
	}
}
