package evidencetest

import (
	"bytes"
	"regexp"
)

// ShortValue is the length (in bytes) below which Leaks looks for a
// personal value only as a value of its own: four face digits turn up by
// chance in the hex and base64 of hashes, salts and signatures (about one
// masked evidence report in twenty held "0839" in a proof path), eight
// hex digits once in four billion places.
const ShortValue = 8

// Shows reports whether text shows v as a value of its own: not inside a
// longer run of ASCII letters and digits. "朗读数字 0839", `"0839"` and
// ">0839<" show "0839"; "…eae0839af78…" (a hash) does not.
func Shows(text []byte, v string) bool { return shown(v).Match(text) }

// Leaks reports whether public bytes hold the personal value v: anywhere,
// for a value of ShortValue bytes or more; as a value of its own (Shows),
// for a shorter one, which a random hash may hold by chance. It is what a
// test asserting that no personal value is served looks for.
func Leaks(public []byte, v string) bool { return Index(public, v) >= 0 }

// Index is where Leaks finds v in public (the value itself, not the
// character before it), or -1: for an error message showing the context.
func Index(public []byte, v string) int {
	if len(v) >= ShortValue {
		return bytes.Index(public, []byte(v))
	}
	loc := shown(v).FindIndex(public)
	if loc == nil {
		return -1
	}
	return loc[0] + bytes.Index(public[loc[0]:loc[1]], []byte(v))
}

func shown(v string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[^0-9A-Za-z])` + regexp.QuoteMeta(v) + `($|[^0-9A-Za-z])`)
}
