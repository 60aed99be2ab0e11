package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
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

// decodeStrict parses one JSON value from b into a tree of map[string]any,
// []any, string, json.Number, bool and nil. Unlike encoding/json it rejects
// invalid UTF-8 (which json.Unmarshal silently replaces), duplicate object
// keys (which it silently lets the last one win, so two parsers could see
// two different events), nesting deeper than maxDepth and trailing data.
// Errors are *ValidationError with path "$" and the byte offset.
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
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	p := parser{d: d, maxDepth: maxDepth}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, invalid("$", "unexpected data after the JSON value (byte offset %d)", d.InputOffset())
	}
	return v, nil
}

type parser struct {
	d        *json.Decoder
	maxDepth int
}

func (p *parser) syntax(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return invalid("$", "malformed JSON at byte offset %d: %s", se.Offset, se.Error())
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return invalid("$", "truncated JSON")
	}
	return invalid("$", "malformed JSON at byte offset %d", p.d.InputOffset())
}

func (p *parser) value(depth int) (any, error) {
	tok, err := p.d.Token()
	if err != nil {
		return nil, p.syntax(err)
	}
	return p.fromToken(tok, depth)
}

func (p *parser) fromToken(tok json.Token, depth int) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		if depth+1 > p.maxDepth {
			return nil, invalid("$", "JSON nested deeper than %d (byte offset %d)", p.maxDepth, p.d.InputOffset())
		}
		switch t {
		case '{':
			m := map[string]any{}
			for {
				kt, err := p.d.Token()
				if err != nil {
					return nil, p.syntax(err)
				}
				if kt == json.Delim('}') {
					return m, nil
				}
				k, ok := kt.(string)
				if !ok {
					return nil, invalid("$", "malformed JSON at byte offset %d", p.d.InputOffset())
				}
				if _, dup := m[k]; dup {
					return nil, invalid("$", "duplicate key %q (byte offset %d)", k, p.d.InputOffset())
				}
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
		case '[':
			a := []any{}
			for {
				tok, err := p.d.Token()
				if err != nil {
					return nil, p.syntax(err)
				}
				if tok == json.Delim(']') {
					return a, nil
				}
				v, err := p.fromToken(tok, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
		}
		return nil, invalid("$", "malformed JSON at byte offset %d", p.d.InputOffset())
	case string, json.Number, bool, nil:
		return t, nil
	}
	return nil, invalid("$", "malformed JSON at byte offset %d", p.d.InputOffset())
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
