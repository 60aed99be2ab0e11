package verify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/verify/internal/cos"
)

// appendUpdate appends an incremental update to a real file: objs maps object
// numbers to a function of the object's current body (raw PDF text).
func appendUpdate(t *testing.T, data []byte, objs map[uint32]string) []byte {
	t.Helper()
	ends := cos.Revisions(data)
	f, err := cos.Open(data, ends[len(ends)-1], cos.NewBudget(context.Background(), cos.Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	size, _ := f.Trailer["Size"].(int64)
	var b bytes.Buffer
	b.Write(data)
	var nums []int
	for n := range objs {
		nums = append(nums, int(n))
	}
	sort.Ints(nums)
	offs := map[int]int{}
	for _, n := range nums {
		offs[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, objs[uint32(n)])
		if int64(n) >= size {
			size = int64(n) + 1
		}
	}
	x := b.Len()
	b.WriteString("xref\n")
	for _, n := range nums {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n \n", n, offs[n])
	}
	root := f.Trailer["Root"].(cos.Ref)
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", size, root, f.StartXref, x)
	return b.Bytes()
}

// sigObjects finds the signature field and its signature dictionary.
func sigObjects(t *testing.T, data []byte) (field, value uint32, f *cos.File) {
	t.Helper()
	ends := cos.Revisions(data)
	f, err := cos.Open(data, ends[len(ends)-1], cos.NewBudget(context.Background(), cos.Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range f.Objects() {
		if d, ok := f.Get(n).(cos.Dict); ok && d["FT"] == cos.Name("Sig") {
			if v, ok := d["V"].(cos.Ref); ok {
				return n, v.Num, f
			}
		}
	}
	t.Fatal("no signature field")
	return 0, 0, nil
}

// TestSignedClaimsSurviveRewrite: an update that rewrites the signature
// dictionary (here its /Reason) is a disallowed change, and the report
// still shows what the signer signed.
func TestSignedClaimsSurviveRewrite(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corpus, "rsa-sha256-tsa.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t)
	before, err := PDFBytes(context.Background(), data, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, value, f := sigObjects(t, data)
	d := f.Get(value).(cos.Dict)
	sp := mustSpan(t, f, value)
	body := string(data[sp[0]:sp[1]])
	if before.Signatures[0].Reason == "" || d["Reason"] == nil {
		t.Fatalf("the corpus file has no /Reason to spoof: %q", body)
	}
	spoofed := strings.Replace(body, "/Reason", "/Reason (Spoofed by Mallory) /Ignored", 1)
	spoofed = spoofed[strings.Index(spoofed, "<<"):strings.LastIndex(spoofed, "endobj")]
	after, err := PDFBytes(context.Background(), appendUpdate(t, data, map[uint32]string{value: spoofed}), opts)
	if err != nil {
		t.Fatal(err)
	}
	s := after.Signatures[0]
	if s.Reason != before.Signatures[0].Reason {
		t.Errorf("reason %q, want the signed %q", s.Reason, before.Signatures[0].Reason)
	}
	if s.ChangesAllowed || s.Verdict.Indication == TotalPassed {
		t.Errorf("the rewritten signature dictionary is allowed: %s %+v", verdictString(s.Verdict), s.Changes)
	}
}

// TestShadowReplace: an update that gives a signed field a new
// appearance, so that it shows another name while /V is unchanged, is
// not allowed.
func TestShadowReplace(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corpus, "rsa-sha256-tsa.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	field, value, f := sigObjects(t, data)
	fd := f.Get(field).(cos.Dict)
	stream := f.Trailer["Size"].(int64)
	var keys []string
	for k, v := range fd {
		if k == "AP" {
			continue
		}
		keys = append(keys, fmt.Sprintf("/%s %s", k, pdfText(v)))
	}
	sort.Strings(keys)
	newField := fmt.Sprintf("<< %s /AP << /N %d 0 R >> >>", strings.Join(keys, " "), stream)
	out := appendUpdate(t, data, map[uint32]string{
		field:          newField,
		uint32(stream): "<< /Type /XObject /Subtype /Form /BBox [0 0 100 20] /Length 22 >>\nstream\nBT (Signed: Mallory) ET\nendstream",
	})
	rep, err := PDFBytes(context.Background(), out, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Signatures[0]
	_ = value
	if s.ChangesAllowed || rep.Verdict.Indication == TotalPassed {
		t.Fatalf("shadow appearance allowed: %s %+v", verdictString(rep.Verdict), s.Changes)
	}
}

func mustSpan(t *testing.T, f *cos.File, num uint32) [2]int64 {
	t.Helper()
	s, e, ok := f.Span(num)
	if !ok {
		t.Fatalf("object %d is not stored directly", num)
	}
	return [2]int64{s, e}
}

// pdfText writes a parsed object back as PDF syntax (enough for tests).
func pdfText(o cos.Object) string {
	switch v := o.(type) {
	case nil:
		return "null"
	case cos.Name:
		return "/" + string(v)
	case cos.String:
		return fmt.Sprintf("<%x>", string(v))
	case cos.Ref:
		return v.String()
	case cos.Array:
		var parts []string
		for _, x := range v {
			parts = append(parts, pdfText(x))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case cos.Dict:
		var parts []string
		for k, x := range v {
			parts = append(parts, "/"+string(k)+" "+pdfText(x))
		}
		sort.Strings(parts)
		return "<< " + strings.Join(parts, " ") + " >>"
	}
	return fmt.Sprint(o)
}
