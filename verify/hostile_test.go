package verify

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// mkPDF writes a PDF with a classic xref table from object bodies.
func mkPDF(objs map[int]string, trailer string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	var nums []int
	for n := range objs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	offs := map[int]int{}
	for _, n := range nums {
		offs[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, objs[n])
	}
	x := b.Len()
	b.WriteString("xref\n0 1\n0000000000 65535 f \n")
	for _, n := range nums {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n \n", n, offs[n])
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n", nums[len(nums)-1]+1, trailer, x)
	return b.Bytes()
}

func deflate(n int) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	chunk := make([]byte, 1<<20)
	for i := 0; i < n; i += len(chunk) {
		w.Write(chunk)
	}
	w.Close()
	return b.Bytes()
}

func sigCatalog(extra string) map[int]string {
	return map[int]string{
		1: "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
		2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>",
		4: "<< /FT /Sig /T (s) /V 5 0 R " + extra + " >>",
		5: "<< /Type /Sig /SubFilter /adbe.pkcs7.detached /ByteRange [0 10 20 5] /Contents <3080> >>",
	}
}

// TestHostile feeds inputs built to hurt a parser. Each must end, within
// the deadline, in ErrNotPDF/ErrTooLarge/ErrDeadline or a report that is
// not TOTAL-PASSED, and never panic.
func TestHostile(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	random := func(n int) []byte {
		b := make([]byte, n)
		rnd.Read(b)
		return b
	}
	nested := strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20)
	bomb := deflate(256 << 20) // 256 MiB of zeros in about 250 KiB
	cases := map[string][]byte{
		"empty":              {},
		"zeros":              make([]byte, 1<<20),
		"garbage":            random(1 << 20),
		"header only":        []byte("%PDF-1.7\n"),
		"eof only":           []byte("%PDF-1.7\nstartxref\n0\n%%EOF\n"),
		"startxref past end": []byte("%PDF-1.7\nstartxref\n99999999\n%%EOF\n"),
		"nested trailer":     []byte("%PDF-1.7\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /A " + nested + " >>\nstartxref\n9\n%%EOF\n"),
		"nested object":      mkPDF(map[int]string{1: "<< /Type /Catalog /X " + nested + " >>"}, ""),
		"nested BER":         mkPDF(sigCatalog(""), ""),
		"reference loop":     mkPDF(map[int]string{1: "6 0 R", 6: "7 0 R", 7: "6 0 R"}, ""),
		"kids loop":          mkPDF(map[int]string{1: "<< /Type /Catalog /AcroForm << /Fields [4 0 R] >> /Pages 2 0 R >>", 2: "<< /Type /Pages /Kids [2 0 R] >>", 4: "<< /FT /Sig /Kids [4 0 R 8 0 R] >>", 8: "<< /Kids [4 0 R] /Parent 4 0 R >>"}, ""),
		"prev loop":          mkPDF(map[int]string{1: "<< /Type /Catalog >>"}, "/Prev 9"),
		"huge size":          []byte("%PDF-1.7\nxref\n999999999999 5\n0000000000 65535 f \ntrailer\n<< /Size 999999999999 >>\nstartxref\n9\n%%EOF\n"),
		"length loop":        mkPDF(map[int]string{1: "<< /Type /Catalog /Metadata 2 0 R >>", 2: "<< /Length 2 0 R >>\nstream\nabc\nendstream"}, ""),
		"bomb objstm": mkPDF(map[int]string{
			1: "<< /Type /Catalog /Pages 9 0 R >>",
			2: fmt.Sprintf("<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream", len(bomb), bomb),
		}, ""),
		"bomb DSS": mkPDF(map[int]string{
			1: "<< /Type /Catalog /DSS << /CRLs [2 0 R 2 0 R 2 0 R] >> /AcroForm << /Fields [4 0 R] >> >>",
			2: fmt.Sprintf("<< /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream", len(bomb), bomb),
			4: "<< /FT /Sig /V 5 0 R >>",
			5: "<< /Type /Sig /SubFilter /adbe.pkcs7.detached /ByteRange [0 1 2 3] /Contents <00> >>",
		}, ""),
		"encrypted":          mkPDF(map[int]string{1: "<< /Type /Catalog >>", 2: "<< /Filter /Standard /V 2 /R 3 >>"}, "/Encrypt 2 0 R"),
		"byterange overflow": mkPDF(map[int]string{1: "<< /Type /Catalog /AcroForm << /Fields [4 0 R] >> >>", 4: "<< /FT /Sig /V 5 0 R >>", 5: "<< /ByteRange [0 9223372036854775807 9223372036854775807 9223372036854775807] /Contents <00> >>"}, ""),
	}
	// Nested indefinite-length BER in /Contents: gmsm's ber2der would
	// recurse once per level.
	ber := strings.Repeat("3080", 200000)
	cases["nested BER"] = mkPDF(map[int]string{
		1: "<< /Type /Catalog /AcroForm << /Fields [4 0 R] >> >>",
		4: "<< /FT /Sig /V 5 0 R >>",
		5: "<< /Type /Sig /SubFilter /adbe.pkcs7.detached /ByteRange [0 1 2 3] /Contents <" + ber + "> >>",
	}, "")
	// An xref stream whose data is a compression bomb.
	var xs bytes.Buffer
	xs.WriteString("%PDF-1.7\n")
	off := xs.Len()
	fmt.Fprintf(&xs, "1 0 obj\n<< /Type /XRef /Size 1 /W [1 4 2] /Filter /FlateDecode /Length %d >>\nstream\n", len(bomb))
	xs.Write(bomb)
	fmt.Fprintf(&xs, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", off)
	cases["bomb xref stream"] = xs.Bytes()

	// 1000 incremental updates, each reaching all earlier sections
	// through /Prev: parsed once each, not once per revision.
	many := mkPDF(sigCatalog(""), "")
	for i := 0; i < 999; i++ {
		prev := bytes.LastIndex(many, []byte("xref\n"))
		off := len(many)
		many = append(many, fmt.Sprintf("1 0 obj\n<< /Type /Catalog /N %d /AcroForm << /Fields [4 0 R] >> >>\nendobj\n", i)...)
		x := len(many)
		many = append(many, fmt.Sprintf("xref\n1 1\n%010d 00000 n \ntrailer\n<< /Size 6 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", off, prev, x)...)
	}
	cases["1000 revisions"] = many

	if !testing.Short() {
		cases["50 MiB random"] = append([]byte("%PDF-1.7\n"), random(50<<20-9)...)
	}
	opts := testOptions(t)
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			rep, err := PDF(ctx, bytes.NewReader(data), int64(len(data)), opts)
			took := time.Since(start)
			if err != nil {
				if !errors.Is(err, ErrNotPDF) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrDeadline) {
					t.Fatalf("error %v is not a classified verify error", err)
				}
				t.Logf("%v (%v)", err, took)
				return
			}
			if rep.Verdict.Indication == TotalPassed {
				t.Fatalf("hostile input passed: %+v", rep.Verdict)
			}
			t.Logf("%s (%v)", verdictString(rep.Verdict), took)
		})
	}
}

// TestTrailingBlanks checks that blank bytes after the last %%EOF are
// neither a change nor damage.
func TestTrailingBlanks(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(corpus, "rsa-sha256-tsa.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, "\r\n \n\x00"...)
	rep, err := PDF(context.Background(), bytes.NewReader(b), int64(len(b)), testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict.Indication != TotalPassed || rep.UnsignedChanges || rep.DamagedBytes != 0 || rep.Signatures[0].ChangedAfter {
		t.Fatalf("trailing blanks changed the verdict: %+v", rep.Verdict)
	}
}

// TestTooLarge checks the size limit is enforced before reading.
func TestTooLarge(t *testing.T) {
	_, err := PDF(context.Background(), bytes.NewReader(nil), 100, Options{MaxSize: 10})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

// FuzzPDF runs the whole entry point on mutated corpus files.
func FuzzPDF(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpus, "*.pdf"))
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err == nil && len(b) < 200<<10 {
			f.Add(b)
		}
	}
	// pyHanko's test files (incremental updates of every kind the
	// difference analysis judges, broken cross-reference data, odd byte
	// ranges), read where they are when present.
	pyh, _ := filepath.Glob(filepath.Join(pyHankoCorpus(), "*.pdf"))
	more, _ := filepath.Glob(filepath.Join(pyHankoCorpus(), "*", "*.pdf"))
	for _, fn := range append(pyh, more...) {
		b, err := os.ReadFile(fn)
		if err == nil && len(b) < 200<<10 {
			f.Add(b)
		}
	}
	f.Add(mkPDF(sigCatalog(""), ""))
	opts := testOptions(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		type result struct {
			rep *Report
			err error
		}
		done := make(chan result, 1)
		go func() {
			rep, err := PDF(ctx, bytes.NewReader(data), int64(len(data)), opts)
			done <- result{rep, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("PDF ignored its 2 s deadline for 10 s")
		}
		rep, err := r.rep, r.err
		if err != nil {
			if !errors.Is(err, ErrNotPDF) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrDeadline) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		switch rep.Verdict.Indication {
		case TotalPassed, TotalFailed, Indeterminate:
		default:
			t.Fatalf("bad indication %q", rep.Verdict.Indication)
		}
	})
}
