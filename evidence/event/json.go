package event

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits of the strict decoder. A 1,000-event batch of realistic events is
// about 1 MB; nothing legitimate nests deeper than 6.
const (
	// MaxBodyBytes is the largest POST /v1/events body accepted.
	MaxBodyBytes = 4 << 20
	// MaxDepth is the deepest nesting of objects and arrays accepted.
	MaxDepth = 16
	// MaxBatch is the most events in one batch.
	MaxBatch = 1000
)

// DecodeStrict decodes b as ParseEvents and ParseLeaf do: strict JSON
// (see decodeStrict) nested at most MaxDepth deep, numbers as json.Number.
func DecodeStrict(b []byte) (any, error) { return decodeStrict(b, MaxDepth) }

// CanonicalJSON returns the RFC 8785 canonical JSON of v, a tree as
// DecodeStrict returns it or built of maps, slices, strings, json.Number,
// integers and bools.
func CanonicalJSON(v any) ([]byte, error) { return canonicalJSON(nil, v) }

// decodeStrict parses one JSON value (RFC 8259) from b into a tree of
// map[string]any, []any, string, json.Number, bool and nil. Unlike
// encoding/json it rejects invalid UTF-8 and lone surrogate escapes (which
// json.Unmarshal silently replaces with U+FFFD), duplicate object keys
// (where json.Unmarshal lets the last one win, so two parsers could see two
// different events), nesting deeper than maxDepth, and trailing data.
// Errors are *ValidationError with path "$" and the byte offset. It is a
// small recursive-descent parser because encoding/json's token API, the
// only way to see duplicate keys with it, costs ten times more per event.
func decodeStrict(b []byte, maxDepth int) (any, error) {
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return nil, invalid("$", "body is not valid UTF-8 (byte offset %d)", i)
	}
	p := jsonParser{b: b, maxDepth: maxDepth}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, invalid("$", "unexpected data after the JSON value (byte offset %d)", p.i)
	}
	return v, nil
}

type jsonParser struct {
	b        []byte
	i        int
	maxDepth int
}

func (p *jsonParser) fail(what string) error {
	if p.i >= len(p.b) {
		return invalid("$", "truncated JSON")
	}
	return invalid("$", "malformed JSON at byte offset %d: %s", p.i, what)
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, error) {
	if p.i >= len(p.b) {
		return nil, p.fail("")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		if depth+1 > p.maxDepth {
			return nil, invalid("$", "JSON nested deeper than %d (byte offset %d)", p.maxDepth, p.i)
		}
		p.i++
		m := map[string]any{}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return m, nil
		}
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return nil, p.fail("want a member name")
			}
			at := p.i
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			if _, dup := m[k]; dup {
				return nil, invalid("$", "duplicate key %q (byte offset %d)", k, at)
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, p.fail("want ':'")
			}
			p.i++
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
			p.ws()
			if p.i >= len(p.b) {
				return nil, p.fail("")
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case '}':
				p.i++
				return m, nil
			default:
				return nil, p.fail("want ',' or '}'")
			}
		}
	case c == '[':
		if depth+1 > p.maxDepth {
			return nil, invalid("$", "JSON nested deeper than %d (byte offset %d)", p.maxDepth, p.i)
		}
		p.i++
		a := []any{}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return a, nil
		}
		for {
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			p.ws()
			if p.i >= len(p.b) {
				return nil, p.fail("")
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case ']':
				p.i++
				return a, nil
			default:
				return nil, p.fail("want ',' or ']'")
			}
		}
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.lit("true")
	case c == 'f':
		return false, p.lit("false")
	case c == 'n':
		return nil, p.lit("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.num()
	}
	return nil, p.fail("unexpected character")
}

func (p *jsonParser) lit(s string) error {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return p.fail("bad literal")
	}
	p.i += len(s)
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// num scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonParser) num() (any, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && isDigit(p.b[p.i]):
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	default:
		return nil, p.fail("bad number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.i >= len(p.b) || !isDigit(p.b[p.i]) {
			return nil, p.fail("bad number")
		}
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.i >= len(p.b) || !isDigit(p.b[p.i]) {
			return nil, p.fail("bad number")
		}
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	}
	return json.Number(p.b[start:p.i]), nil
}

// str scans a string starting at the opening quote.
func (p *jsonParser) str() (string, error) {
	p.i++ // opening quote
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.fail("control character in string")
		}
		p.i++
	}
	// Slow path: escapes.
	buf := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c < 0x20:
			return "", p.fail("control character in string")
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.b) {
			return "", p.fail("")
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 || p.i+1 >= len(p.b) || p.b[p.i] != '\\' || p.b[p.i+1] != 'u' {
					return "", p.fail("lone surrogate in \\u escape")
				}
				p.i += 2
				r2, ok := p.hex4()
				if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
					return "", p.fail("lone surrogate in \\u escape")
				}
				r = utf16.DecodeRune(r, r2)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", p.fail("bad escape")
		}
	}
	return "", p.fail("")
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// canonicalJSON appends the RFC 8785 (JCS) serialisation of v to dst. v is
// a tree of map[string]any, []any, string, json.Number, float64, int64,
// uint64, int, bool and nil. Object members are sorted by their UTF-16 code
// units, strings use the minimal escaping of RFC 8785 section 3.2.2.2, and
// numbers are written as ECMAScript's Number.prototype.toString would, which
// is what encoding/json does for a float64 (its encoder follows ES6).
// A uint64 beyond 2^53 is rejected: it has no exact IEEE 754 form.
//
// Spec: https://www.rfc-editor.org/rfc/rfc8785
func canonicalJSON(dst []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if t {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return appendJCSString(dst, t), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return nil, fmt.Errorf("evidence: number %q: %w", t, err)
		}
		return appendJCSNumber(dst, f)
	case float64:
		return appendJCSNumber(dst, t)
	case int:
		return appendJCSNumber(dst, float64(t))
	case int64:
		return appendJCSNumber(dst, float64(t))
	case uint64:
		if t > 1<<53 {
			return nil, fmt.Errorf("evidence: integer %d beyond 2^53", t)
		}
		return appendJCSNumber(dst, float64(t))
	case []any:
		dst = append(dst, '[')
		for i, e := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = canonicalJSON(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJCSString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = canonicalJSON(dst, t[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case []string:
		a := make([]any, len(t))
		for i, s := range t {
			a[i] = s
		}
		return canonicalJSON(dst, a)
	case map[string]string:
		m := make(map[string]any, len(t))
		for k, s := range t {
			m[k] = s
		}
		return canonicalJSON(dst, m)
	}
	return nil, fmt.Errorf("evidence: cannot canonicalise %T", v)
}

func appendJCSNumber(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, errors.New("evidence: NaN or infinity in JSON")
	}
	if f == 0 {
		return append(dst, '0'), nil // also -0
	}
	if a := math.Abs(f); a >= 1e-6 && a < 1e21 {
		// Where encoding/json writes no exponent it writes exactly this
		// (ECMAScript's Number::toString agrees); the exponent forms keep
		// going through it below. Marshal's reflection was a fifth of the
		// leaf's canonicalization.
		return strconv.AppendFloat(dst, f, 'f', -1, 64), nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("evidence: number: %w", err)
	}
	return append(dst, b...), nil
}

const hexDigits = "0123456789abcdef"

func appendJCSString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			// Copy the run of bytes that need no escaping at once.
			j := i + 1
			for j < len(s) && s[j] >= 0x20 && s[j] != '"' && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j - 1
			continue
		}
		switch {
		case c == '"':
			dst = append(dst, '\\', '"')
		case c == '\\':
			dst = append(dst, '\\', '\\')
		case c < 0x20:
			switch c {
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// section 3.2.3 requires (it differs from byte order only for characters
// above U+FFFF against U+E000..U+FFFF).
func compareUTF16(a, b string) int {
	// Keys are nearly always ASCII, where UTF-16 order is byte order: skip
	// the common ASCII prefix and decide on the first differing byte when
	// both are ASCII too.
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] && a[i] < utf8.RuneSelf {
		i++
	}
	switch {
	case i == len(a) && i == len(b):
		return 0
	case i == len(a):
		return -1
	case i == len(b):
		return 1
	case a[i] < utf8.RuneSelf && b[i] < utf8.RuneSelf:
		return cmp.Compare(a[i], b[i])
	}
	a, b = a[i:], b[i:]
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := utf16Key(ra), utf16Key(rb)
			if ua < ub {
				return -1
			}
			return 1
		}
		a, b = a[na:], b[nb:]
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

// utf16Key maps a rune to a value ordered like its first UTF-16 code unit
// (and then the second, for surrogate pairs).
func utf16Key(r rune) uint32 {
	if r < 0x10000 {
		return uint32(r) << 16
	}
	r -= 0x10000
	hi := 0xD800 + (uint32(r) >> 10)
	lo := 0xDC00 + (uint32(r) & 0x3FF)
	return hi<<16 | lo
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
