package cos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestObject(t *testing.T) {
	tests := []struct {
		in   string
		want Object
	}{
		{"42", int64(42)},
		{"-3.5", -3.5},
		{"/Name#20With#2FHash", Name("Name With/Hash")},
		{"(a\\(b\\)c\\n\\101)", String("a(b)c\nA")},
		{"(nested (paren) ok)", String("nested (paren) ok")},
		{"<48 65 6C6C 6F>", String("Hello")},
		{"<4>", String("@")},
		{"12 0 R", Ref{12, 0}},
		{"[1 2 0 R /X]", Array{int64(1), Ref{2, 0}, Name("X")}},
		{"<< /A 1 /B << /C true >> /D null >>", Dict{"A": int64(1), "B": Dict{"C": true}, "D": nil}},
		{"% comment\n 7", int64(7)},
	}
	for _, tt := range tests {
		l := &lexer{data: []byte(tt.in)}
		got, err := l.object(0, 8)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestObjectErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{strings.Repeat("[", 9) + strings.Repeat("]", 9), ErrLimit},
		{"<< 1 2 >>", ErrMalformed},
		{"(unterminated", ErrMalformed},
		{"<zz>", ErrMalformed},
		{"[1 2", ErrMalformed},
		{"99999999999 0 R", ErrMalformed},
	}
	for _, tt := range tests {
		l := &lexer{data: []byte(tt.in)}
		_, err := l.object(0, 8)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%q: %v", tt.in, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%q: got %v, want %v", tt.in, err, tt.want)
		}
	}
}

func build(objs ...string) []byte {
	var b strings.Builder
	b.WriteString("%PDF-1.7\n")
	var offs []int
	for i, o := range objs {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return []byte(b.String())
}

func TestFileResolve(t *testing.T) {
	data := build(
		"<< /Type /Catalog /Next 2 0 R >>",
		"<< /Length 3 0 R >>\nstream\nhello\nendstream",
		"5",
		"4 0 R",
		"4 0 R",
	)
	ends := Revisions(data)
	if len(ends) != 1 || ends[0] != int64(len(data)) {
		t.Fatalf("revisions %v, want [%d]", ends, len(data))
	}
	f, err := Open(data, ends[0], NewBudget(context.Background(), Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := f.Resolve(f.Trailer["Root"]).(Dict)
	s, ok := f.Resolve(cat["Next"]).(*Stream)
	if !ok {
		t.Fatalf("object 2 is %T", f.Resolve(cat["Next"]))
	}
	b, err := f.Decode(s)
	if err != nil || string(b) != "hello" {
		t.Fatalf("stream %q, %v", b, err)
	}
	// Resolve follows one level only, so a loop of references cannot loop.
	if v := f.Resolve(Ref{4, 0}); v != (Ref{4, 0}) {
		t.Fatalf("object 4 resolved to %v, want its value 4 0 R", v)
	}
	if start, end, ok := f.Span(2); !ok || start <= 0 || end <= start {
		t.Fatalf("span %d %d %v", start, end, ok)
	}
}

func TestBudget(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var objs []string
	for i := 0; i < 600; i++ {
		objs = append(objs, fmt.Sprintf("%d", i))
	}
	data := build(objs...)
	f, err := Open(data, int64(len(data)), NewBudget(ctx, Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	for i := uint32(1); i <= 600; i++ {
		f.Get(i)
	}
	if !errors.Is(f.Err(), context.Canceled) {
		t.Fatalf("Err() = %v after a cancelled context", f.Err())
	}
}

// FuzzOpen reads every revision of arbitrary bytes and loads every object
// the cross-reference data names, within the default limits.
func FuzzOpen(f *testing.F) {
	f.Add(build("<< /Type /Catalog >>", "<< /Length 3 >>\nstream\nabc\nendstream"))
	f.Add(build("[1 2 3 R]", "(str\\)ing)", "<414243>"))
	// pyHanko's reader-robustness files, where the shared corpus is.
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "..", "shared", "corpus", "pyhanko", "*.pdf"))
	for _, fn := range files {
		if b, err := os.ReadFile(fn); err == nil && len(b) < 200<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := NewBudget(context.Background(), Limits{MaxDecoded: 1 << 20})
		for _, end := range Revisions(data) {
			file, err := Open(data, end, b)
			if err != nil {
				continue
			}
			for num := range file.xref {
				if s, ok := file.Get(num).(*Stream); ok {
					file.Decode(s)
				}
			}
		}
	})
}
