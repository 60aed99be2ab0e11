package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// FuzzDecodeStrict checks the strict decoder against encoding/json: what it
// accepts, encoding/json accepts with the same value; what it rejects is
// invalid JSON or one of the things it rejects on purpose.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2.5,-0.1e+3,true,false,null,"x\u00e9\ud83d\ude00\n"]}`, `[]`, `{}`, `"\u0000"`,
		`{"a":1,"a":2}`, `"\ud800"`, `01`, `1.`, `-`, `[1,]`, `{"a" 1}`, "\"\xff\"", `"\/\b\f"`,
		strings.Repeat("[", 20) + strings.Repeat("]", 20), ` 1 `, `1 2`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := event.DecodeStrict(b)
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var want any
		stdErr := d.Decode(&want)
		if stdErr == nil {
			if _, e := d.Token(); e != io.EOF {
				stdErr = errors.New("trailing data")
			}
		}
		if err != nil {
			if !errors.Is(err, event.ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			if stdErr == nil {
				// Only the deliberate rejections may differ.
				msg := err.Error()
				if !utf8.Valid(b) || strings.Contains(msg, "duplicate key") || strings.Contains(msg, "nested deeper") ||
					strings.Contains(msg, "surrogate") {
					return
				}
				t.Fatalf("rejected %q (%v) which encoding/json accepts", b, err)
			}
			return
		}
		if stdErr != nil {
			t.Fatalf("accepted %q which encoding/json rejects: %v", b, stdErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("value differs for %q (-encoding/json +ours):\n%s", b, diff)
		}
	})
}

// FuzzCanonicalFastPaths checks the canonical encoder's shortcuts against
// their definitions: a number is written as encoding/json writes it (the
// exponent forms aside, RFC 8785 and encoding/json agree), and object keys
// are ordered by their UTF-16 code units.
func FuzzCanonicalFastPaths(f *testing.F) {
	f.Add(0.6, "a", "b")
	f.Add(333333333.33333329, "\u20ac", "\U0001F600")
	f.Add(1e-6, "\ufb33", "\U0001F600")
	f.Add(-123456789012345678.0, "ab", "a")
	f.Add(9.999999999999999e20, "x\u0080", "x1")
	f.Fuzz(func(t *testing.T, n float64, k1, k2 string) {
		if a := math.Abs(n); a >= 1e-6 && a < 1e21 {
			got, err := event.CanonicalJSON(n)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(n)
			if string(got) != string(want) {
				t.Errorf("number %v: got %s, want %s", n, got, want)
			}
		}
		if k1 == k2 || !utf8.ValidString(k1) || !utf8.ValidString(k2) {
			return
		}
		got, err := event.CanonicalJSON(map[string]any{k1: 1, k2: 2})
		if err != nil {
			t.Fatal(err)
		}
		first, second := k1, k2
		if slices.Compare(utf16.Encode([]rune(k2)), utf16.Encode([]rune(k1))) < 0 {
			first, second = k2, k1
		}
		want, _ := event.CanonicalJSON([]any{first, second})
		if !strings.HasPrefix(string(got), "{"+string(want[1:bytes.IndexByte(want, ',')])) {
			t.Errorf("keys %q, %q: got %s, want %q first", k1, k2, got, first)
		}
	})
}
