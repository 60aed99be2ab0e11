package event

import (
	"regexp"
	"testing"
)

// TestIsIdent: isIdent agrees with the regexp it replaced.
func TestIsIdent(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	for _, key := range []string{"", "a", "_", "Z9", "9a", "a-b", "a b", "contract_id", "数据", "a\u0660", "é", "A_0", "0", "a.b", "x\n"} {
		if got, want := isIdent(key), re.MatchString(key); got != want {
			t.Errorf("isIdent(%q) = %v, want %v", key, got, want)
		}
	}
}

func FuzzIsIdent(f *testing.F) {
	re := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	for _, s := range []string{"", "a1", "1a", "_x", "数"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := isIdent(key), re.MatchString(key); got != want {
			t.Errorf("isIdent(%q) = %v, want %v", key, got, want)
		}
	})
}
