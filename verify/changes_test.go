package verify

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/verify/internal/cos"
)

// appendRev appends an incremental update (objs; a "" body frees the
// object) to pdf.
func appendRev(pdf []byte, objs map[int]string) []byte {
	prev := bytes.LastIndex(pdf, []byte("\nxref\n")) + 1
	var b bytes.Buffer
	b.Write(pdf)
	var nums []int
	for n := range objs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	offs := map[int]int{}
	for _, n := range nums {
		if objs[n] != "" {
			offs[n] = b.Len()
			fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, objs[n])
		}
	}
	x := b.Len()
	b.WriteString("xref\n")
	for _, n := range nums {
		if objs[n] == "" {
			fmt.Fprintf(&b, "%d 1\n0000000000 00001 f \n", n)
		} else {
			fmt.Fprintf(&b, "%d 1\n%010d 00000 n \n", n, offs[n])
		}
	}
	fmt.Fprintf(&b, "trailer\n<< /Size 40 /Root 1 0 R /Info 9 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", prev, x)
	return b.Bytes()
}

func TestClassifyRevision(t *testing.T) {
	base := mkPDF(map[int]string{
		1: "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] >> >>",
		2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		3: "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Annots [5 0 R] >>",
		4: "<< /Length 5 >>\nstream\nBT ET\nendstream",
		5: "<< /FT /Tx /T (name) /V (a) /Subtype /Widget /Rect [0 0 1 1] /P 3 0 R >>",
		9: "<< /Producer (x) >>",
	}, "/Info 9 0 R")
	tests := []struct {
		name string
		objs map[int]string
		want string // the kinds of change, sorted, each once
	}{
		{"form fill", map[int]string{5: "<< /FT /Tx /T (name) /V (b) /Subtype /Widget /Rect [0 0 1 1] /P 3 0 R >>"}, "form-fill"},
		{"field renamed", map[int]string{5: "<< /FT /Tx /T (other) /V (a) /Subtype /Widget /Rect [0 0 1 1] /P 3 0 R >>"}, "other"},
		{"content changed", map[int]string{4: "<< /Length 9 >>\nstream\nBT (x) ET\nendstream"}, "other"},
		{"object deleted", map[int]string{4: ""}, "other"},
		{"note with popup", map[int]string{
			20: "<< /Type /Annot /Subtype /Text /Rect [0 0 1 1] /Popup 21 0 R >>",
			21: "<< /Type /Annot /Subtype /Popup /Parent 20 0 R /Rect [0 0 1 1] >>",
			3:  "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Annots [5 0 R 20 0 R 21 0 R] >>",
		}, "annotation"},
		{"new signature field", map[int]string{
			22: "<< /Type /Sig /ByteRange [0 1 2 3] /Contents <00> >>",
			23: "<< /FT /Sig /T (s) /V 22 0 R /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R >>",
			3:  "<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Annots [5 0 R 23 0 R] >>",
			1:  "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 23 0 R] /SigFlags 3 >> >>",
		}, "signature"},
		{"new text field", map[int]string{
			24: "<< /FT /Tx /T (extra) /Subtype /Widget /Rect [0 0 1 1] /P 3 0 R >>",
			1:  "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 24 0 R] >> >>",
		}, "other"},
		{"validation data", map[int]string{
			25: "<< /Length 3 >>\nstream\nabc\nendstream",
			26: "<< /Type /DSS /CRLs [25 0 R] >>",
			1:  "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] >> /DSS 26 0 R >>",
		}, "dss"},
		{"document info", map[int]string{9: "<< /Producer (y) >>"}, "metadata"},
		{"unchanged rewrite", map[int]string{2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := appendRev(base, tt.objs)
			ends := cos.Revisions(data)
			b := cos.NewBudget(context.Background(), cos.Limits{})
			old, err := cos.Open(data, ends[0], b)
			if err != nil {
				t.Fatal(err)
			}
			cur, err := cos.Open(data, ends[1], b)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			var kinds []string
			for _, c := range diffRevision(old, cur, 2) {
				t.Logf("%+v", c)
				if !seen[c.Kind] {
					seen[c.Kind] = true
					kinds = append(kinds, c.Kind)
				}
			}
			sort.Strings(kinds)
			if got := strings.Join(kinds, ","); got != tt.want {
				t.Errorf("changes %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFieldLock checks FieldMDP-style locks, from a transform or a
// signature field's /Lock, against form-fill changes.
func TestFieldLock(t *testing.T) {
	data := mkPDF(map[int]string{
		1: "<< /Type /Catalog >>",
		2: "<< /Action /Include /Fields [(name)] >>",
		3: "<< /Action /Exclude /Fields [(free)] /P 2 >>",
		4: "<< /Action /All >>",
	}, "")
	f, err := cos.Open(data, cos.Revisions(data)[0], cos.NewBudget(context.Background(), cos.Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lock   uint32
		field  string
		allow  bool
		docMDP int
	}{
		{2, "name", false, 0},
		{2, "other", true, 0},
		{3, "free", true, 2},
		{3, "name", false, 2},
		{4, "free", false, 0},
	}
	for _, tt := range tests {
		var sig Signature
		d, _ := f.Get(tt.lock).(cos.Dict)
		applyFieldLock(f, d, &sig)
		got := permitted(&sig, Change{Kind: ChangeFormFill, Field: tt.field})
		if got != tt.allow || sig.DocMDP != tt.docMDP {
			t.Errorf("lock %d, field %q: allowed %v (DocMDP %d), want %v (DocMDP %d)", tt.lock, tt.field, got, sig.DocMDP, tt.allow, tt.docMDP)
		}
	}
}

// TestDiffPolicy covers the legitimate updates real tools make after a
// signature and the attacks that look like them: each row is an update of
// a signed form with a tagged structure, and the kinds of change found.
func TestDiffPolicy(t *testing.T) {
	base := mkPDF(map[int]string{
		1:  "<< /Type /Catalog /Pages 2 0 R /AcroForm 6 0 R /StructTreeRoot 10 0 R /MarkInfo << /Marked true >> >>",
		2:  "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		3:  "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612.0 792.0] /Contents 4 0 R /Annots [5 0 R 7 0 R] /StructParents 0 >>",
		4:  "<< /Length 5 >>\nstream\nBT ET\nendstream",
		5:  "<< /FT /Tx /T (name) /V (a) /Subtype /Widget /Rect [0 0 1 1] /P 3 0 R /AP << /N 13 0 R >> >>",
		6:  "<< /Fields [5 0 R 7 0 R] /DR << /Font << /Helv 14 0 R >> >> /SigFlags 3 >>",
		7:  "<< /FT /Sig /T (sig) /V 8 0 R /Subtype /Widget /Rect [0 0 10 10] /P 3 0 R /AP << /N 12 0 R >> >>",
		8:  "<< /Type /Sig /ByteRange [0 1 2 3] /Contents <00> /Reason (agreed) >>",
		9:  "<< /Producer (x) >>",
		10: "<< /Type /StructTreeRoot /K [11 0 R] /ParentTree 15 0 R /ParentTreeNextKey 1 >>",
		11: "<< /Type /StructElem /S /Document /P 10 0 R /K [0] /Pg 3 0 R >>",
		12: "<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Length 14 >>\nstream\nBT (Alice) ET\nendstream",
		13: "<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Length 10 >>\nstream\nBT (a) ET\nendstream",
		14: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		15: "<< /Nums [0 [11 0 R]] >>",
	}, "/Info 9 0 R")
	const shadow = "<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] /Length 16 >>\nstream\nBT (Mallory) ET\nendstream"
	tests := []struct {
		name string
		objs map[int]string
		want string // the kinds of change, sorted, each once
	}{
		{"page rewritten, numbers re-serialised", map[int]string{
			3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots [5 0 R 7 0 R] /StructParents 0 >>",
		}, ""},
		{"annotation added, page re-serialised", map[int]string{
			20: "<< /Type /Annot /Subtype /Text /Rect [0 0 1 1] /Contents (note) >>",
			3:  "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots [5 0 R 7 0 R 20 0 R] /StructParents 0 >>",
		}, "annotation"},
		{"page content changed with the annotation", map[int]string{
			20: "<< /Type /Annot /Subtype /Text /Rect [0 0 1 1] >>",
			3:  "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 792] /Contents 4 0 R /Annots [5 0 R 7 0 R 20 0 R] /StructParents 0 >>",
		}, "other"},
		{"form font added to /DR", map[int]string{
			21: "<< /Type /Font /Subtype /Type1 /BaseFont /ZapfDingbats >>",
			6:  "<< /Fields [5 0 R 7 0 R] /DR << /Font << /Helv 14 0 R /ZaDb 21 0 R >> >> /SigFlags 3 >>",
		}, "form-fill"},
		{"form font in /DR replaced", map[int]string{
			21: "<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>",
			6:  "<< /Fields [5 0 R 7 0 R] /DR << /Font << /Helv 21 0 R >> >> /SigFlags 3 >>",
		}, "form-fill,other"},
		{"value filled, appearance regenerated", map[int]string{
			22: "<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Length 10 >>\nstream\nBT (b) ET\nendstream",
			5:  "<< /FT /Tx /T (name) /V (b) /Subtype /Widget /Rect [0 0 1 1] /P 3 0 R /AP << /N 22 0 R >> >>",
		}, "form-fill"},
		{"value filled, appearance rewritten in place", map[int]string{
			13: "<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Length 10 >>\nstream\nBT (b) ET\nendstream",
			5:  "<< /FT /Tx /T (name) /V (b) /Subtype /Widget /Rect [0 0 1 1] /P 3 0 R /AP << /N 13 0 R >> >>",
		}, "form-fill"},
		{"shadow: signed field shows a new appearance", map[int]string{
			23: shadow,
			7:  "<< /FT /Sig /T (sig) /V 8 0 R /Subtype /Widget /Rect [0 0 10 10] /P 3 0 R /AP << /N 23 0 R >> >>",
		}, "other"},
		{"shadow: signed field's appearance rewritten in place", map[int]string{12: shadow}, "other"},
		{"signature dictionary rewritten", map[int]string{
			8: "<< /Type /Sig /ByteRange [0 1 2 3] /Contents <00> /Reason (spoofed) >>",
		}, "other"},
		{"structure tags a new annotation", map[int]string{
			20: "<< /Type /Annot /Subtype /Text /Rect [0 0 1 1] /StructParent 1 >>",
			3:  "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots [5 0 R 7 0 R 20 0 R] /StructParents 0 >>",
			24: "<< /Type /StructElem /S /Annot /P 11 0 R /K [25 0 R] /Pg 3 0 R >>",
			25: "<< /Type /OBJR /Obj 20 0 R /Pg 3 0 R >>",
			11: "<< /Type /StructElem /S /Document /P 10 0 R /K [0 24 0 R] /Pg 3 0 R >>",
			15: "<< /Nums [0 [11 0 R] 1 24 0 R] >>",
			10: "<< /Type /StructTreeRoot /K [11 0 R] /ParentTree 15 0 R /ParentTreeNextKey 2 >>",
		}, "annotation"},
		{"structure retags existing content", map[int]string{
			11: "<< /Type /StructElem /S /Sect /P 10 0 R /K [0] /Pg 3 0 R >>",
		}, "other"},
		{"structure tags an existing object", map[int]string{
			24: "<< /Type /StructElem /S /Annot /P 11 0 R /K [<< /Type /OBJR /Obj 5 0 R >>] >>",
			11: "<< /Type /StructElem /S /Document /P 10 0 R /K [0 24 0 R] /Pg 3 0 R >>",
		}, "other"},
		{"long-term validation data with extensions and version", map[int]string{
			26: "<< /Length 3 >>\nstream\nabc\nendstream",
			27: "<< /Type /DSS /Certs [26 0 R] /VRI << /0123456789ABCDEF0123456789ABCDEF01234567 << /Cert [26 0 R] >> >> >>",
			1:  "<< /Type /Catalog /Pages 2 0 R /AcroForm 6 0 R /StructTreeRoot 10 0 R /MarkInfo << /Marked true >> /DSS 27 0 R /Version /2.0 /Extensions << /ESIC << /BaseVersion /1.7 /ExtensionLevel 1 >> >> >>",
		}, "dss"},
		{"catalog gains an open action", map[int]string{
			1: "<< /Type /Catalog /Pages 2 0 R /AcroForm 6 0 R /StructTreeRoot 10 0 R /MarkInfo << /Marked true >> /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>",
		}, "other"},
		{"signed field removed", map[int]string{
			6: "<< /Fields [5 0 R] /DR << /Font << /Helv 14 0 R >> >> /SigFlags 3 >>",
		}, "form-fill,other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := appendRev(base, tt.objs)
			ends := cos.Revisions(data)
			b := cos.NewBudget(context.Background(), cos.Limits{})
			old, err := cos.Open(data, ends[0], b)
			if err != nil {
				t.Fatal(err)
			}
			cur, err := cos.Open(data, ends[1], b)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			var kinds []string
			for _, c := range diffRevision(old, cur, 2) {
				t.Logf("%+v", c)
				if !seen[c.Kind] {
					seen[c.Kind] = true
					kinds = append(kinds, c.Kind)
				}
			}
			sort.Strings(kinds)
			if got := strings.Join(kinds, ","); got != tt.want {
				t.Errorf("changes %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDiffFailsClosed: when reading the signed revision runs out of its
// allowance, a rewrite that needs every referrer checked is not allowed.
func TestDiffFailsClosed(t *testing.T) {
	objs := map[int]string{
		1: "<< /Type /Catalog /Pages 2 0 R /DSS 3 0 R >>",
		2: "<< /Type /Pages /Kids [] /Count 0 >>",
		3: "<< /Certs 4 0 R >>",
		4: "[5 0 R]",
		5: "<< /Length 1 >>\nstream\na\nendstream",
	}
	for i := 10; i < 400; i++ {
		objs[i] = fmt.Sprintf("<< /N %d >>", i)
	}
	data := appendRev(mkPDF(objs, ""), map[int]string{
		4: "[5 0 R 6 0 R]",
		6: "<< /Length 1 >>\nstream\nb\nendstream",
	})
	ends := cos.Revisions(data)
	for _, limit := range []int{100000, 50} {
		b := cos.NewBudget(context.Background(), cos.Limits{MaxResolves: limit})
		old, err := cos.Open(data, ends[0], b)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := cos.Open(data, ends[1], b)
		if err != nil {
			t.Fatal(err)
		}
		other := false
		for _, c := range diffRevision(old, cur, 2) {
			t.Logf("limit %d: %+v", limit, c)
			other = other || c.Kind == ChangeOther
		}
		if other != (limit == 50) {
			t.Errorf("with %d loads allowed: disallowed change found = %v", limit, other)
		}
	}
}
