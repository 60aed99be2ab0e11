package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/verify"
)

// verdictError carries the exit status for a verdict other than TOTAL-PASSED.
type verdictError struct {
	code int
	msg  string
}

func (e *verdictError) Error() string { return e.msg }
func (e *verdictError) ExitCode() int { return e.code }

// PDF runs `verify pdf` with args (what follows `pdf`), printing the report
// to out; the error carries the exit status (ExitCode) of a verdict other
// than TOTAL-PASSED.
func PDF(ctx context.Context, prog string, args []string, out io.Writer) error {
	fs := newFlagSet(prog+" pdf", "FILE [--json] [--trust-roots DIR] [--server URL]\n\n"+
		"Exit status: 0 all signatures TOTAL-PASSED, 3 TOTAL-FAILED, 4 INDETERMINATE, 5 not a readable PDF.")
	jsonOut := fs.Bool("json", false, "print the full report as JSON")
	rootsDir := fs.String("trust-roots", "", "directory of PEM trust anchors (*.pem, *.crt, *.cer)")
	system := fs.Bool("system-roots", true, "also trust the system's root certificates")
	server := fs.String("server", "", "cunzheng server to ask whether the ledger holds the document (offline when empty)")
	keys := fs.String("ledger-keys", "", "file of the log's and notaries' verifier keys, one per line as cunzheng keys and cunzheng notary keys print them, to check the ledger's checkpoint")
	origin := fs.String("ledger-origin", "", "the log's checkpoint origin (any when empty)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	maxSize := fs.Int64("max-size", verify.DefaultMaxSize, "largest PDF accepted, in bytes")
	// Accept FILE before or after the flags.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() != 0 || file == "" {
		fs.Usage()
		return errors.New("want exactly one PDF file")
	}
	// The system roots are read only when a signature's chain names one
	// (Options.SystemRoots): parsing them all was most of the run time.
	roots, err := verify.LoadRoots(*rootsDir, false)
	if err != nil {
		return err
	}
	opts := verify.Options{Roots: roots, SystemRoots: *system, MaxSize: *maxSize, LedgerOrigin: *origin}
	if *server != "" {
		u, err := url.Parse(*server)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("--server %q is not an http(s) URL", *server)
		}
		opts.Lookup = &httpLookup{base: strings.TrimRight(*server, "/"), client: &http.Client{Timeout: 15 * time.Second}}
	}
	if *keys != "" {
		v, err := ReadVerifierKeys(*keys)
		if err != nil {
			return err
		}
		opts.LedgerVerifiers = v
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rep, err := verify.PDF(ctx, f, st.Size(), opts)
	if err != nil {
		return &verdictError{ExitUnreadable, "无法读取该PDF文件 not a readable PDF file: " + err.Error()}
	}
	if *jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		writeReport(out, file, rep)
	}
	switch rep.Verdict.Indication {
	case verify.TotalPassed:
		return nil
	case verify.TotalFailed:
		return &verdictError{ExitTotalFailed, string(rep.Verdict.Indication) + "/" + string(rep.Verdict.SubIndication)}
	}
	return &verdictError{ExitIndeterminate, string(rep.Verdict.Indication) + "/" + string(rep.Verdict.SubIndication)}
}

// ReadVerifierKeys reads verifier keys, one per line, of any type
// `cunzheng keys` and `cunzheng notary keys` print; blank lines and lines
// starting with # are skipped.
func ReadVerifierKeys(path string) (note.Verifiers, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	vs, err := tlogfmt.ParseVerifierKeys(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return note.VerifierList(vs...), nil
}

// httpLookup asks a cunzheng server's GET /v1/verify/lookup/{sha256}.
type httpLookup struct {
	base   string
	client *http.Client
}

var _ verify.DocumentLookup = (*httpLookup)(nil)

func (h *httpLookup) LookupDocument(ctx context.Context, sum [32]byte) (verify.LedgerRecord, error) {
	var rec verify.LedgerRecord
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/v1/verify/lookup/"+hex.EncodeToString(sum[:]), nil)
	if err != nil {
		return rec, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return rec, fmt.Errorf("ledger lookup: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return rec, verify.ErrNotRecorded
	default:
		return rec, fmt.Errorf("ledger lookup: server answered %s", resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&rec); err != nil {
		return rec, fmt.Errorf("ledger lookup: %w", err)
	}
	return rec, nil
}

// writeReport prints the report in the shape of the verification page:
// every line Chinese first with the English beside it, or a Chinese
// sentence with its English on the next line (TestTextOutputChineseFirst).
// The names are verify's, shared with the page (verify/names.go).
func writeReport(w io.Writer, file string, rep *verify.Report) {
	fmt.Fprintf(w, "%s\n%s\n%s\n\n", file, rep.Verdict.Message.ZH, rep.Verdict.Message.EN)
	fmt.Fprintf(w, "结论 Verdict:          %s %s\n", rep.Verdict.Indication, rep.Verdict.SubIndication)
	if rep.LastSigningTime != nil {
		fmt.Fprintf(w, "最后签署时间 Last signed: %s\n", rep.LastSigningTime.Format("2006-01-02 15:04:05 MST"))
	}
	fmt.Fprintf(w, "签名数量 Signatures:     %d\n", len(rep.Signatures))
	fmt.Fprintf(w, "文件摘要 SHA-256:        %s\n", rep.FileSHA256)
	if rep.Ledger != nil {
		writeLedger(w, "", rep.Ledger)
	}
	for _, r := range rep.RevisionLedger {
		fmt.Fprintf(w, "\n该文件的第 %d 版（此后的修订不在该记录之内） Revision %d of this file (the revisions after it are not part of this record)\n", r.Revision, r.Revision)
		fmt.Fprintf(w, "  版本摘要 SHA-256:  %s\n", r.SHA256)
		writeLedger(w, "  ", r.Ledger)
	}
	for _, s := range rep.Signatures {
		who := ""
		if s.Signer != nil {
			who = s.Signer.CommonName
		}
		kind := "签名 Signature"
		if s.Kind == "document-timestamp" {
			kind = "文档时间戳 Document timestamp"
		}
		fmt.Fprintf(w, "\n%s %d: %s\n", kind, s.Index, who)
		fmt.Fprintf(w, "  %s\n  %s\n", s.Verdict.Message.ZH, s.Verdict.Message.EN)
		fmt.Fprintf(w, "  结论 Verdict:       %s %s\n", s.Verdict.Indication, s.Verdict.SubIndication)
		if s.Signer != nil {
			fmt.Fprintf(w, "  证书 Certificate:   %s\n", s.Signer.Subject)
			fmt.Fprintf(w, "  颁发者 Issuer:      %s\n", s.Signer.Issuer)
			fmt.Fprintf(w, "  序列号 Serial:      %s\n", s.Signer.Serial)
			fmt.Fprintf(w, "  有效期 Valid:       %s – %s\n", s.Signer.NotBefore.Format("2006-01-02"), s.Signer.NotAfter.Format("2006-01-02"))
		}
		if s.DocMDP > 0 {
			fmt.Fprintf(w, "  认证签名 DocMDP:    P=%d（1 不允许修改，2 允许填写表单和签名，3 另允许注释 1 locked, 2 form filling and signing, 3 also annotations）\n", s.DocMDP)
		}
		if s.Algorithm != "" {
			fmt.Fprintf(w, "  算法 Algorithm:     %s\n", s.Algorithm)
		}
		if s.ClaimedSigningTime != nil {
			fmt.Fprintf(w, "  声称签署时间 Claimed: %s\n", s.ClaimedSigningTime.Format(time.RFC3339))
		}
		if ts := s.Timestamp; ts != nil && s.Kind == "signature" {
			st := ts.State()
			state := st.ZH + " " + st.EN
			if ts.Problem != "" {
				state += ": " + problem(ts.Problem)
			}
			fmt.Fprintf(w, "  时间戳 Timestamp:   %s (%s)\n", ts.Time.Format(time.RFC3339), state)
		}
		fmt.Fprintf(w, "  吊销数据 Embedded:  %d CRL, %d OCSP\n", s.EmbeddedCRLs, s.EmbeddedOCSPs)
		for _, r := range s.Revocation {
			fmt.Fprintf(w, "  吊销 Revocation:    %s: %s %s (%s)\n", r.Subject, revocationZH(r.Status), r.Status, r.Source)
		}
		if !s.ChangedAfter {
			fmt.Fprintf(w, "  签名后修改 Changes: 无 none\n")
		}
		for _, c := range s.Changes {
			allowedZH, allowedEN := "允许", "allowed"
			if !c.Allowed {
				allowedZH, allowedEN = "不允许", "NOT allowed"
			}
			fmt.Fprintf(w, "  签名后修改 Change:  第 %d 版 %s %s（%s） — revision %d, %s %s (%s)\n",
				c.Revision, verify.ChangeKindZH(c.Kind), verify.ChangeObjectZH(c.Object), allowedZH,
				c.Revision, c.Kind, c.Object, allowedEN)
		}
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  问题 Problem:       %s\n", problem(p))
		}
		if s.Ledger != nil {
			writeLedger(w, "  ", s.Ledger)
		}
	}
}

// problem is one of verify's English problem lines, its Chinese first.
func problem(en string) string {
	t := verify.ProblemText(en)
	return t.ZH + " — " + t.EN
}

// revocationZH names a revocation status (verify.RevocationInfo.Status).
func revocationZH(status string) string {
	switch status {
	case "good":
		return "未吊销"
	case "revoked":
		return "已吊销"
	}
	return "未知"
}

// kind names an event kind, Chinese first: 签署合同 contract signed (contract.signed).
func kind(k string) string {
	if k == "" {
		return "— (no kind)"
	}
	zh, en := verify.KindWords(k)
	if zh == k {
		return "未知事件 " + k
	}
	return zh + " " + en + " (" + k + ")"
}

// cst is the zone the Chinese lines print times in (UTC+8).
var cst = time.FixedZone("CST", 8*3600)

func writeLedger(w io.Writer, indent string, r *verify.LedgerRecord) {
	if !r.ProofOK {
		switch {
		case r.Problem == verify.ErrPending.Error():
			fmt.Fprintf(w, "%s存证 Ledger: %s\n", indent, problem(r.Problem))
		case len(r.Leaf) > 0:
			fmt.Fprintf(w, "%s存证 Ledger: 存证日志返回了记录，但未能校验 record found but not verified: %s\n", indent, problem(r.Problem))
		default:
			fmt.Fprintf(w, "%s存证 Ledger: 未能查询存证日志 the log could not be queried: %s\n", indent, problem(r.Problem))
		}
		return
	}
	zhKind, enKind := verify.KindWords(r.Kind)
	switch {
	case r.Issued():
		zhDoc, enDoc := verify.DocumentWords(r.ReportDocument)
		fmt.Fprintf(w, "%s存证 Ledger: 本存证平台于 %s 出具，报告编号 %s（%s）\n", indent, r.SignedAt.In(cst).Format("2006-01-02 15:04:05 -07:00"), r.Report, zhDoc)
		fmt.Fprintf(w, "%s  issued by this archive on %s, report number %s (%s)\n", indent, r.SignedAt.Format(time.RFC3339), r.Report, enDoc)
	case r.Signing():
		fmt.Fprintf(w, "%s存证 Ledger: 于 %s 通过平台签署（%s）\n", indent, r.SignedAt.In(cst).Format("2006-01-02 15:04:05 -07:00"), zhKind)
		fmt.Fprintf(w, "%s  signed through the platform on %s (%s, %s)\n", indent, r.SignedAt.Format(time.RFC3339), enKind, r.Kind)
	default:
		fmt.Fprintf(w, "%s存证 Ledger: 于 %s 记录（%s），此记录本身不表示已签署\n", indent, r.SignedAt.In(cst).Format("2006-01-02 15:04:05 -07:00"), zhKind)
		fmt.Fprintf(w, "%s  recorded on %s (%s, %s); that alone does not mean it was signed\n", indent, r.SignedAt.Format(time.RFC3339), enKind, r.Kind)
	}
	fmt.Fprintf(w, "%s  记录在账本第 %d 条（树大小 %d，证明已校验，签名方 %s）\n", indent, r.LeafIndex, r.TreeSize, strings.Join(r.SignedBy, ", "))
	fmt.Fprintf(w, "%s  leaf %d, proof checked against a tree of %d signed by %s\n", indent, r.LeafIndex, r.TreeSize, strings.Join(r.SignedBy, ", "))
	if r.ContractNumber != "" {
		fmt.Fprintf(w, "%s  合同编号 Contract number: %s\n", indent, r.ContractNumber)
	}
	for _, e := range r.Events {
		state := "包含证明已校验 proof checked"
		if !e.ProofOK {
			state = "未能校验 NOT verified: " + problem(e.Problem)
		}
		fmt.Fprintf(w, "%s  事件 Event: 第 %d 条 leaf %d, %s, %s（%s）\n", indent, e.LeafIndex, e.LeafIndex, kind(e.Kind), e.Time.In(cst).Format("2006-01-02 15:04:05 -07:00"), state)
	}
}
