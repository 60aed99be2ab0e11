// Package cos reads the object layer of a PDF file (ISO 32000-2 §7.2–7.5:
// tokens, objects, cross-reference tables and streams, object streams) with
// hard bounds on nesting depth, object count, decoded stream size and work,
// so that a hostile file costs at most a known amount of memory and time.
//
// Why not github.com/digitorus/pdf (the parser pdfsign uses)? Reading it for
// this issue showed it is not safe on hostile input: it reports errors by
// panicking; readObject recurses without a depth limit (a deeply nested
// array overflows the goroutine stack, which is fatal and cannot be
// recovered); an object stream whose /Extends points to itself loops
// forever; and it allocates make([]xref, /Size) straight from the file. It
// also reads only the newest revision. A public upload endpoint needs all of
// these bounded, and signature verification needs every revision, so this
// package keeps to the few parts of COS that verification needs and bounds
// each of them.
//
// Spec: ISO 32000-2:2020 §7 (syntax).
package cos

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// ErrMalformed is wrapped by every error about the file's syntax.
var ErrMalformed = errors.New("malformed PDF")

// ErrLimit is wrapped when the file exceeds one of the Limits.
var ErrLimit = errors.New("PDF exceeds a processing limit")

// Name is a PDF name object without its leading slash.
type Name string

// String is a PDF string object (literal or hexadecimal), as raw bytes.
type String string

// Ref is an indirect reference "num gen R".
type Ref struct {
	Num uint32
	Gen uint16
}

func (r Ref) String() string { return fmt.Sprintf("%d %d R", r.Num, r.Gen) }

// Dict is a PDF dictionary.
type Dict map[Name]Object

// Array is a PDF array.
type Array []Object

// Stream is a stream object: its dictionary and where its raw data lies.
type Stream struct {
	Dict   Dict
	Offset int64 // first byte of the raw data in the file
	Length int64 // length of the raw data
}

// Object is one of: nil (null), bool, int64, float64, Name, String, Ref,
// Dict, Array, *Stream.
type Object any

// keyword is a bare token such as obj, endobj, R, stream, true.
type keyword string

type delim byte

// Limits bound the work done on one file. Zero fields take the defaults.
type Limits struct {
	// MaxDepth is the deepest nesting of arrays and dictionaries. The default is 64.
	MaxDepth int
	// MaxObjects is the largest object number accepted in a cross-reference
	// section. The default is 1<<20.
	MaxObjects int
	// MaxDecoded is the total number of bytes all decoded streams may produce
	// together. The default is 64 MiB.
	MaxDecoded int64
	// MaxResolves is how many indirect objects may be loaded. The default is 200000.
	MaxResolves int
}

// Default limits.
const (
	DefaultMaxDepth    = 64
	DefaultMaxObjects  = 1 << 20
	DefaultMaxDecoded  = 64 << 20
	DefaultMaxResolves = 200000
)

func (l *Limits) fill() {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxObjects <= 0 {
		l.MaxObjects = DefaultMaxObjects
	}
	if l.MaxDecoded <= 0 {
		l.MaxDecoded = DefaultMaxDecoded
	}
	if l.MaxResolves <= 0 {
		l.MaxResolves = DefaultMaxResolves
	}
}

// lexer tokenizes data starting at pos. It never reads past len(data).
type lexer struct {
	data []byte
	pos  int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		if isSpace(c) {
			l.pos++
			continue
		}
		if c == '%' {
			for l.pos < len(l.data) && l.data[l.pos] != '\n' && l.data[l.pos] != '\r' {
				l.pos++
			}
			continue
		}
		return
	}
}

var errEOF = fmt.Errorf("%w: unexpected end of data", ErrMalformed)

// token returns the next token: int64, float64, Name, String, keyword or delim.
func (l *lexer) token() (any, error) {
	l.skipSpace()
	if l.pos >= len(l.data) {
		return nil, errEOF
	}
	c := l.data[l.pos]
	switch {
	case c == '[' || c == ']' || c == '{' || c == '}':
		l.pos++
		return delim(c), nil
	case c == '<':
		if l.pos+1 < len(l.data) && l.data[l.pos+1] == '<' {
			l.pos += 2
			return delim('d'), nil // <<
		}
		return l.hexString()
	case c == '>':
		if l.pos+1 < len(l.data) && l.data[l.pos+1] == '>' {
			l.pos += 2
			return delim('D'), nil // >>
		}
		return nil, fmt.Errorf("%w: stray '>' at %d", ErrMalformed, l.pos)
	case c == '(':
		return l.literalString()
	case c == ')':
		return nil, fmt.Errorf("%w: stray ')' at %d", ErrMalformed, l.pos)
	case c == '/':
		return l.name(), nil
	}
	start := l.pos
	for l.pos < len(l.data) && !isSpace(l.data[l.pos]) && !isDelim(l.data[l.pos]) {
		l.pos++
	}
	w := l.data[start:l.pos]
	if n, ok := parseInt(w); ok {
		return n, nil
	}
	if looksReal(w) {
		f, err := strconv.ParseFloat(string(w), 64)
		if err == nil {
			return f, nil
		}
	}
	return keyword(w), nil
}

func parseInt(w []byte) (int64, bool) {
	if len(w) == 0 || len(w) > 19 {
		return 0, false
	}
	i := 0
	neg := false
	if w[0] == '+' || w[0] == '-' {
		neg = w[0] == '-'
		i = 1
		if len(w) == 1 {
			return 0, false
		}
	}
	var n int64
	for ; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(w[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func looksReal(w []byte) bool {
	if len(w) == 0 || len(w) > 40 {
		return false
	}
	dot := false
	for i, c := range w {
		switch {
		case c >= '0' && c <= '9':
		case c == '.' && !dot:
			dot = true
		case (c == '-' || c == '+') && i == 0:
		default:
			return false
		}
	}
	return dot
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func (l *lexer) hexString() (any, error) {
	l.pos++ // <
	var out []byte
	hi := -1
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		l.pos++
		if c == '>' {
			if hi >= 0 {
				out = append(out, byte(hi<<4))
			}
			return String(out), nil
		}
		if isSpace(c) {
			continue
		}
		v := unhex(c)
		if v < 0 {
			return nil, fmt.Errorf("%w: bad hex digit at %d", ErrMalformed, l.pos-1)
		}
		if hi < 0 {
			hi = v
		} else {
			out = append(out, byte(hi<<4|v))
			hi = -1
		}
	}
	return nil, errEOF
}

func (l *lexer) literalString() (any, error) {
	l.pos++ // (
	var out []byte
	depth := 1
	for l.pos < len(l.data) {
		c := l.data[l.pos]
		l.pos++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return String(out), nil
			}
		case '\r':
			// An end-of-line inside a literal string reads as \n.
			if l.pos < len(l.data) && l.data[l.pos] == '\n' {
				l.pos++
			}
			c = '\n'
		case '\\':
			if l.pos >= len(l.data) {
				return nil, errEOF
			}
			e := l.data[l.pos]
			l.pos++
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.pos < len(l.data) && l.data[l.pos] == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			case '0', '1', '2', '3', '4', '5', '6', '7':
				v := int(e - '0')
				for k := 0; k < 2 && l.pos < len(l.data) && l.data[l.pos] >= '0' && l.data[l.pos] <= '7'; k++ {
					v = v*8 + int(l.data[l.pos]-'0')
					l.pos++
				}
				c = byte(v)
			default:
				c = e
			}
		}
		out = append(out, c)
	}
	return nil, errEOF
}

func (l *lexer) name() Name {
	l.pos++ // /
	start := l.pos
	for l.pos < len(l.data) && !isSpace(l.data[l.pos]) && !isDelim(l.data[l.pos]) {
		l.pos++
	}
	raw := l.data[start:l.pos]
	if bytes.IndexByte(raw, '#') < 0 {
		return Name(raw)
	}
	var out []byte
	for i := 0; i < len(raw); i++ {
		if raw[i] == '#' && i+2 < len(raw) && unhex(raw[i+1]) >= 0 && unhex(raw[i+2]) >= 0 {
			out = append(out, byte(unhex(raw[i+1])<<4|unhex(raw[i+2])))
			i += 2
			continue
		}
		out = append(out, raw[i])
	}
	return Name(out)
}

// object parses one direct object; "num gen R" becomes a Ref. depth counts
// enclosing containers.
func (l *lexer) object(depth, maxDepth int) (Object, error) {
	tok, err := l.token()
	if err != nil {
		return nil, err
	}
	return l.objectFrom(tok, depth, maxDepth)
}

func (l *lexer) objectFrom(tok any, depth, maxDepth int) (Object, error) {
	switch t := tok.(type) {
	case int64:
		// Maybe "num gen R".
		save := l.pos
		t2, err := l.token()
		if err == nil {
			if g, ok := t2.(int64); ok {
				t3, err := l.token()
				if err == nil && t3 == keyword("R") {
					if t < 0 || t > 1<<31 || g < 0 || g > 65535 {
						return nil, fmt.Errorf("%w: reference %d %d out of range", ErrMalformed, t, g)
					}
					return Ref{uint32(t), uint16(g)}, nil
				}
			}
		}
		l.pos = save
		return t, nil
	case float64, Name, String:
		return t, nil
	case keyword:
		switch t {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
		return nil, fmt.Errorf("%w: unexpected keyword %.20q at %d", ErrMalformed, string(t), l.pos)
	case delim:
		switch t {
		case '[':
			if depth >= maxDepth {
				return nil, fmt.Errorf("%w: nesting deeper than %d", ErrLimit, maxDepth)
			}
			var arr Array
			for {
				tok, err := l.token()
				if err != nil {
					return nil, err
				}
				if tok == delim(']') {
					return arr, nil
				}
				o, err := l.objectFrom(tok, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				arr = append(arr, o)
			}
		case 'd':
			if depth >= maxDepth {
				return nil, fmt.Errorf("%w: nesting deeper than %d", ErrLimit, maxDepth)
			}
			d := Dict{}
			for {
				tok, err := l.token()
				if err != nil {
					return nil, err
				}
				if tok == delim('D') {
					return d, nil
				}
				k, ok := tok.(Name)
				if !ok {
					return nil, fmt.Errorf("%w: dictionary key is not a name at %d", ErrMalformed, l.pos)
				}
				o, err := l.object(depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				d[k] = o
			}
		}
	}
	return nil, fmt.Errorf("%w: unexpected token at %d", ErrMalformed, l.pos)
}
