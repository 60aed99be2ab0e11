package evidence_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/cunzheng/cunzheng/evidence"
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
		got, err := evidence.DecodeStrict(b)
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
			if !errors.Is(err, evidence.ErrInvalidEvent) {
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
