package event_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// extraPatterns are class runs the schema does not use today, to cover
// the shapes classRunOf recognises.
var extraPatterns = []string{`^[a-c]*$`, `^[^a-z]{2,}$`, `^[α-ω0-9]{1,3}$`, `^\d{4}$`, `^[\p{Han}]+$`}

func TestSchemaPatternsAreClassRuns(t *testing.T) {
	patterns := event.SchemaPatterns()
	if len(patterns) == 0 {
		t.Fatal("the schema has no patterns")
	}
	// The fast path must stay in use for the fields every event has: ids
	// and document hashes.
	for _, want := range []string{`^[!-~]+$`, `^[0-9a-f]{64}$`} {
		if !slices.Contains(patterns, want) {
			t.Errorf("the schema no longer has pattern %s", want)
		}
		if !event.IsClassRun(want) {
			t.Errorf("%s is not matched as a class run", want)
		}
	}
	// Not class runs: more than one class, or anchors missing.
	for _, p := range []string{`^[^@\s]+@[^@\s]+$`, `^\+?[0-9][0-9 -]{4,19}$`, `[0-9]+`, `^[0-9]+`, `^(?i)[a-f]+$`, `^a+$`} {
		if event.IsClassRun(p) {
			t.Errorf("%s taken for a class run", p)
		}
	}
}

func TestPatternMatchersAgree(t *testing.T) {
	inputs := []string{
		"", "a", "abc", "ABC", "0123", "deadbeef", strings.Repeat("a", 64), strings.Repeat("f", 65),
		strings.Repeat("0", 18), "91350100M000100Y43", "id-1 2", "x\x00y", "\x1f", "tab\there",
		"叶建华", "αβγ", "αβγδ", "\xff", "a\xffb", "~!", "\u007f", "劳动合同2",
	}
	for _, p := range append(event.SchemaPatterns(), extraPatterns...) {
		re := regexp.MustCompile(p)
		for _, s := range inputs {
			got, err := event.MatchPattern(p, s)
			if err != nil {
				t.Fatal(err)
			}
			if want := re.MatchString(s); got != want {
				t.Errorf("pattern %s on %q: %v, regexp says %v", p, s, got, want)
			}
		}
	}
}

// FuzzPatternMatchers checks the schema's matchers against the regexp
// package on arbitrary strings.
func FuzzPatternMatchers(f *testing.F) {
	patterns := append(event.SchemaPatterns(), extraPatterns...)
	for i, s := range []string{"", "abc", strings.Repeat("a", 64), "叶", "\xff", "x\x00"} {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, s string) {
		p := patterns[int(which)%len(patterns)]
		got, err := event.MatchPattern(p, s)
		if err != nil {
			t.Fatal(err)
		}
		if want := regexp.MustCompile(p).MatchString(s); got != want {
			t.Errorf("pattern %s on %q: %v, regexp says %v", p, s, got, want)
		}
	})
}
