// Package verifyview renders the result of a PDF verification as HTML: the
// templates, words and functions shared by the server's result page
// (package web) and the browser's local check (cmd/verifywasm), so that
// both paths show the same report in the same words. It knows nothing of
// HTTP.
package verifyview

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/cunzheng/cunzheng/verify"
	"github.com/cunzheng/cunzheng/web/templates"
)

// Languages of the pages: Chinese is the default.
const (
	LangZH = "zh"
	LangEN = "en"
)

// Tr renders a user-facing text: Chinese with its English beside it, or
// English alone after the switch.
func Tr(lang, zh, en string) template.HTML {
	if lang == LangEN {
		return template.HTML(template.HTMLEscapeString(en))
	}
	return template.HTML(template.HTMLEscapeString(zh) + ` <span class="en" lang="en">` + template.HTMLEscapeString(en) + `</span>`)
}

// Plural writes a count with its English noun: "1 signature", "2
// signatures". Chinese needs no plural; its sentences keep their own %d.
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// KindLabel names an event kind in the user's words (verify.KindWords,
// shared with the command line).
func KindLabel(lang, kind string) template.HTML {
	zh, en := verify.KindWords(kind)
	return Tr(lang, zh, en)
}

var beijing = time.FixedZone("UTC+8", 8*3600)

// Funcs are the template functions of the result templates.
func Funcs() template.FuncMap {
	m := template.FuncMap{
		"tr":        Tr,
		"kindLabel": KindLabel,
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				if v.IsZero() {
					return ""
				}
				return v.In(beijing).Format("2006-01-02 15:04:05") + " (UTC+8)"
			case *time.Time:
				if v == nil {
					return ""
				}
				return v.In(beijing).Format("2006-01-02 15:04:05") + " (UTC+8)"
			}
			return ""
		},
		"day":    func(t time.Time) string { return t.In(beijing).Format("2006-01-02") },
		"passed": func(i verify.Indication) bool { return i == verify.TotalPassed },
		"failed": func(i verify.Indication) bool { return i == verify.TotalFailed },
		"kindZH": verify.ChangeKindZH,
		"join":   strings.Join,
		"plural": Plural,
	}
	for k, v := range textFuncs {
		m[k] = v
	}
	return m
}

// View is what the result templates render, the shape of package web's
// page view: the language and the page's data.
type View struct {
	Lang string
	Data any
}

// En reports whether the page is in English.
func (v View) En() bool { return v.Lang == LangEN }

// PageData is the data of the result page.
type PageData struct {
	// Name is the file's name, for display only.
	Name   string
	Report *verify.Report
	// Ledgered is set when the server has a ledger to look documents up
	// in, so that "not recorded" can be said.
	Ledgered bool
}

// parsed are the result templates, parsed once on first use.
var parsed = sync.OnceValues(func() (*template.Template, error) {
	return template.New("result").Funcs(Funcs()).ParseFS(templates.Result, "*.html")
})

// Content renders the result page's content (what the server's page shows
// inside its layout's <main>) for rep in lang.
func Content(lang, name string, rep *verify.Report, ledgered bool) ([]byte, error) {
	return execute("content", View{Lang: lang, Data: PageData{Name: name, Report: rep, Ledgered: ledgered}})
}

// BundleContent renders the result of checking an evidence bundle.
func BundleContent(lang string, data BundleData) ([]byte, error) {
	return execute("bundle-result", View{Lang: lang, Data: data})
}

func execute(name string, v View) ([]byte, error) {
	t, err := parsed()
	if err != nil {
		return nil, fmt.Errorf("verifyview: parsing the templates: %w", err)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		return nil, fmt.Errorf("verifyview: rendering %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// HeadlineText is the title and colour of a verification result. The ETSI
// indication is shown beside it unchanged: the headline only says in
// words what the signatures' findings mean for the document.
type HeadlineText struct {
	ZH, EN string
	Class  string // passed, failed, indeterminate (the colour)
}

// Headline chooses the headline: any failed signature makes the
// document fail; a later revision that changed the document in a way not
// allowed is said plainly, although its indication is INDETERMINATE
// (SIG_CONSTRAINTS_FAILURE) as EN 319 102-1 defines it.
func Headline(rep *verify.Report) HeadlineText {
	if rep == nil {
		return HeadlineText{}
	}
	switch rep.Verdict.Indication {
	case verify.TotalPassed:
		return HeadlineText{"PDF文件验签成功", "Verification passed", "passed"}
	case verify.TotalFailed:
		return HeadlineText{"PDF文件验签失败", "Verification failed", "failed"}
	}
	for _, s := range rep.Signatures {
		if s.Verdict.SubIndication == verify.SigConstraintsFailure || s.ChangedAfter && !s.ChangesAllowed {
			return HeadlineText{"签名后文档被修改（不允许的修改）", "Changed after signing (not allowed)", "failed"}
		}
	}
	if len(rep.Signatures) == 0 {
		return HeadlineText{"该PDF文件没有电子签名", "The PDF has no signatures", "indeterminate"}
	}
	return HeadlineText{"PDF文件验签结果无法确定", "Verification indeterminate", "indeterminate"}
}

// CardClass is the colour of one signature's card.
func CardClass(s *verify.Signature) string {
	switch {
	case s.Verdict.Indication == verify.TotalPassed:
		return "passed"
	case s.Verdict.Indication == verify.TotalFailed, s.ChangedAfter && !s.ChangesAllowed:
		return "failed"
	}
	return "indeterminate"
}

// ledgerData is what the "ledger" block of the result pages renders: one
// checked ledger record, in the page's language.
type ledgerData struct {
	Lang string
	R    *verify.LedgerRecord
	// Revision is the signed revision the record is of, inside a
	// signature's card (the file changed after it); 0 for the file itself.
	Revision int
	// Earlier is set for a record of an earlier revision no signature
	// covers (verify.Report.RevisionLedger): the document as sent, of a
	// contract the platform signed last.
	Earlier bool
}

var textFuncs = template.FuncMap{
	"headline":  Headline,
	"pending":   func(r *verify.LedgerRecord) bool { return !r.ProofOK && r.Problem == verify.ErrPending.Error() },
	"cardClass": CardClass,
	"problem": func(lang, en string) template.HTML {
		t := verify.ProblemText(en)
		return Tr(lang, t.ZH, t.EN)
	},
	"text": func(lang string, t *verify.Text) template.HTML {
		if t == nil {
			return ""
		}
		return Tr(lang, t.ZH, t.EN)
	},
	"ledgerView": func(lang string, r *verify.LedgerRecord) ledgerData { return ledgerData{Lang: lang, R: r} },
	"revisionLedgerView": func(lang string, rev int, r *verify.LedgerRecord) ledgerData {
		return ledgerData{Lang: lang, R: r, Revision: rev}
	},
	"earlierLedgerView": func(lang string, rev int, r *verify.LedgerRecord) ledgerData {
		return ledgerData{Lang: lang, R: r, Revision: rev, Earlier: true}
	},
	"kindText": func(lang, kind string) string {
		zh, en := verify.KindWords(kind)
		if lang == LangEN {
			return en
		}
		return zh
	},
	"docZH":    func(d string) string { zh, _ := verify.DocumentWords(d); return zh },
	"objectZH": verify.ChangeObjectZH,
	"stepZH": func(step string) string {
		return verify.BundleStepZH(step, func(k string) string { zh, _ := verify.KindWords(k); return zh })
	},
	"docEN": func(d string) string { _, en := verify.DocumentWords(d); return en },
	"fieldZH": func(f string) string {
		if f == "" {
			return ""
		}
		return "（字段 " + f + "）"
	},
	"fieldEN": func(f string) string {
		if f == "" {
			return ""
		}
		return " (field " + f + ")"
	},
	"allowedZH": func(ok bool) string {
		if ok {
			return "允许"
		}
		return "不允许"
	},
	"allowedEN": func(ok bool) string {
		if ok {
			return "allowed"
		}
		return "NOT allowed"
	},
}

// BundleResult checks an evidence bundle with verify.Bundle and fills the
// result page's data: the result when every check passed, otherwise the
// step that failed and why. The browser's check and the server's upload
// path both use it, so the two pages say the same for the same file.
func BundleResult(name string, data []byte, opts verify.BundleOptions) BundleData {
	sum := sha256.Sum256(data)
	d := BundleData{Name: name, SHA256: hex.EncodeToString(sum[:])}
	res, err := verify.Bundle(data, opts)
	if err != nil {
		var be *verify.BundleError
		if !errors.As(err, &be) {
			be = &verify.BundleError{Step: "bundle", Err: err}
		}
		d.FailedStep, d.Problem = be.Step, be.Err.Error()
		d.Reason = verify.BundleReason(be.Err)
		return d
	}
	d.Result = res
	return d
}

// BundleData is the result of checking an evidence bundle in the browser.
type BundleData struct {
	// Name is the bundle file's name, for display only.
	Name string
	// Result is set when every check passed.
	Result *verify.BundleResult
	// FailedStep and Problem name the first check that failed
	// (verify.BundleError); Problem is verify's English words.
	FailedStep string
	Problem    string
	// Reason says in words what the failed check means, from the kind of
	// error verify gave (nil when it gave none of its sentinels).
	Reason *verify.Text
	// SHA256 is the hex SHA-256 of the bundle file.
	SHA256 string
	// Server is set when the server checked the bundle (the upload path),
	// not the browser.
	Server bool
}
