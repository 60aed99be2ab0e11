package event

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// SchemaJSON is the JSON Schema (draft 2020-12) of POST /v1/events, served
// at GET /v1/schema/events. It is also what the server enforces: Validate
// interprets this very document (see compileSchema for the keywords it
// understands), so the published schema and the checks cannot drift apart.
//
// Spec: https://json-schema.org/draft/2020-12/json-schema-validation
//
//go:embed events.schema.json
var SchemaJSON []byte

// schemaNode is one compiled (sub)schema. Only the keywords listed in
// compileSchema exist; the schema file using any other is a build-time bug
// caught by TestSchemaCompiles.
type schemaNode struct {
	ref                  string
	types                []string
	constV               any
	hasConst             bool
	enum                 []any
	required             []string
	properties           map[string]*schemaNode
	propOrder            []string // sorted names of properties
	noAdditional         bool
	items                *schemaNode
	minItems, maxItems   int // -1 when absent
	minLength, maxLength int // -1 when absent
	pattern              stringMatcher
	format               string
	minimum, maximum     *float64
	allOf, anyOf         []*schemaNode
	ifS, thenS, elseS    *schemaNode
	description          string
}

// compiledSchema is the root and its $defs.
type compiledSchema struct {
	root *schemaNode
	defs map[string]*schemaNode
}

var loadSchema = sync.OnceValues(func() (*compiledSchema, error) { return compileSchema(SchemaJSON) })

func compileSchema(doc []byte) (*compiledSchema, error) {
	var raw map[string]any
	d := json.NewDecoder(strings.NewReader(string(doc)))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return nil, fmt.Errorf("evidence: schema: %w", err)
	}
	cs := &compiledSchema{defs: map[string]*schemaNode{}}
	if defs, ok := raw["$defs"].(map[string]any); ok {
		for name, v := range defs {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("evidence: schema: $defs/%s is not an object", name)
			}
			n, err := compileNode(m, "$defs/"+name)
			if err != nil {
				return nil, err
			}
			cs.defs[name] = n
		}
	}
	root, err := compileNode(raw, "")
	if err != nil {
		return nil, err
	}
	cs.root = root
	// Check every $ref resolves.
	var check func(n *schemaNode) error
	seen := map[*schemaNode]bool{}
	check = func(n *schemaNode) error {
		if n == nil || seen[n] {
			return nil
		}
		seen[n] = true
		if n.ref != "" {
			if _, ok := cs.defs[n.ref]; !ok {
				return fmt.Errorf("evidence: schema: unresolved $ref %q", n.ref)
			}
		}
		kids := []*schemaNode{n.items, n.ifS, n.thenS, n.elseS}
		kids = append(kids, n.allOf...)
		kids = append(kids, n.anyOf...)
		for _, p := range n.properties {
			kids = append(kids, p)
		}
		for _, k := range kids {
			if err := check(k); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range cs.defs {
		if err := check(n); err != nil {
			return nil, err
		}
	}
	if err := check(root); err != nil {
		return nil, err
	}
	return cs, nil
}

func compileNode(m map[string]any, where string) (*schemaNode, error) {
	n := &schemaNode{minItems: -1, maxItems: -1, minLength: -1, maxLength: -1}
	bad := func(k string) error { return fmt.Errorf("evidence: schema %s: bad %s", where, k) }
	intOf := func(k string, v any) (int, error) {
		num, ok := v.(json.Number)
		if !ok {
			return 0, bad(k)
		}
		i, err := strconv.Atoi(string(num))
		if err != nil {
			return 0, bad(k)
		}
		return i, nil
	}
	sub := func(k string, v any) (*schemaNode, error) {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, bad(k)
		}
		return compileNode(mm, where+"/"+k)
	}
	subs := func(k string, v any) ([]*schemaNode, error) {
		a, ok := v.([]any)
		if !ok {
			return nil, bad(k)
		}
		var out []*schemaNode
		for i, e := range a {
			s, err := sub(fmt.Sprintf("%s/%d", k, i), e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	var err error
	for k, v := range m {
		switch k {
		case "$schema", "$id", "title", "$defs", "examples":
		case "description":
			n.description, _ = v.(string)
		case "$ref":
			s, _ := v.(string)
			name, ok := strings.CutPrefix(s, "#/$defs/")
			if !ok {
				return nil, bad(k)
			}
			n.ref = name
		case "type":
			switch t := v.(type) {
			case string:
				n.types = []string{t}
			case []any:
				for _, e := range t {
					s, _ := e.(string)
					n.types = append(n.types, s)
				}
			default:
				return nil, bad(k)
			}
		case "const":
			n.constV, n.hasConst = v, true
		case "enum":
			a, ok := v.([]any)
			if !ok {
				return nil, bad(k)
			}
			n.enum = a
		case "required":
			a, ok := v.([]any)
			if !ok {
				return nil, bad(k)
			}
			for _, e := range a {
				s, _ := e.(string)
				n.required = append(n.required, s)
			}
		case "properties":
			pm, ok := v.(map[string]any)
			if !ok {
				return nil, bad(k)
			}
			n.properties = map[string]*schemaNode{}
			for name, pv := range pm {
				if n.properties[name], err = sub("properties/"+name, pv); err != nil {
					return nil, err
				}
				n.propOrder = append(n.propOrder, name)
			}
			sort.Strings(n.propOrder)
		case "additionalProperties":
			if b, ok := v.(bool); !ok || b {
				return nil, fmt.Errorf("evidence: schema %s: only additionalProperties false is supported", where)
			}
			n.noAdditional = true
		case "items":
			if n.items, err = sub(k, v); err != nil {
				return nil, err
			}
		case "minItems":
			n.minItems, err = intOf(k, v)
		case "maxItems":
			n.maxItems, err = intOf(k, v)
		case "minLength":
			n.minLength, err = intOf(k, v)
		case "maxLength":
			n.maxLength, err = intOf(k, v)
		case "pattern":
			s, _ := v.(string)
			if n.pattern, err = compilePattern(s); err != nil {
				return nil, bad(k)
			}
		case "format":
			n.format, _ = v.(string)
			switch n.format {
			case "date-time", "ipv4", "ipv6":
			default:
				return nil, bad(k)
			}
		case "minimum", "maximum":
			num, ok := v.(json.Number)
			if !ok {
				return nil, bad(k)
			}
			f, perr := num.Float64()
			if perr != nil {
				return nil, bad(k)
			}
			if k == "minimum" {
				n.minimum = &f
			} else {
				n.maximum = &f
			}
		case "allOf":
			n.allOf, err = subs(k, v)
		case "anyOf":
			n.anyOf, err = subs(k, v)
		case "if":
			n.ifS, err = sub(k, v)
		case "then":
			n.thenS, err = sub(k, v)
		case "else":
			n.elseS, err = sub(k, v)
		default:
			return nil, fmt.Errorf("evidence: schema %s: unsupported keyword %q", where, k)
		}
		if err != nil {
			return nil, err
		}
	}
	return n, nil
}

// validate checks v against n and returns the first problem, in a fixed
// order: type, const/enum, string and number bounds, required members (in
// schema order), members (in key order), unknown members, array bounds,
// items (in order), anyOf, $ref, allOf, if/then/else.
func (cs *compiledSchema) validate(n *schemaNode, v any, path *jpath) *ValidationError {
	return cs.check(n, v, path, false)
}

// errProbe is what check returns in quiet mode, where the caller only
// needs to know whether v matches (if, anyOf): formatting messages that
// are thrown away cost more than the checks.
var errProbe = &ValidationError{Path: "$", Msg: "does not match"}

// lazy returns errProbe in quiet mode without building the message.
func lazy(quiet bool, f func() *ValidationError) *ValidationError {
	if quiet {
		return errProbe
	}
	return f()
}

func (cs *compiledSchema) check(n *schemaNode, v any, path *jpath, quiet bool) *ValidationError {
	if len(n.types) > 0 && !slices.ContainsFunc(n.types, func(t string) bool { return hasType(v, t) }) {
		return lazy(quiet, func() *ValidationError {
			return invalid(path.String(), "want %s, got %s", strings.Join(n.types, " or "), typeName(v))
		})
	}
	if n.hasConst && !jsonEqual(v, n.constV) {
		return lazy(quiet, func() *ValidationError { return invalid(path.String(), "must be %s", jsonText(n.constV)) })
	}
	if n.enum != nil && !slices.ContainsFunc(n.enum, func(e any) bool { return jsonEqual(v, e) }) {
		opts := make([]string, len(n.enum))
		for i, e := range n.enum {
			opts[i] = jsonText(e)
		}
		return lazy(quiet, func() *ValidationError { return invalid(path.String(), "must be one of %s", strings.Join(opts, ", ")) })
	}
	switch t := v.(type) {
	case string:
		if n.minLength >= 0 || n.maxLength >= 0 {
			l := utf8.RuneCountInString(t)
			if n.minLength >= 0 && l < n.minLength {
				return lazy(quiet, func() *ValidationError { return invalid(path.String(), "shorter than %d characters", n.minLength) })
			}
			if n.maxLength >= 0 && l > n.maxLength {
				return lazy(quiet, func() *ValidationError { return invalid(path.String(), "longer than %d characters", n.maxLength) })
			}
		}
		if n.pattern != nil && !n.pattern.MatchString(t) {
			return lazy(quiet, func() *ValidationError { return invalid(path.String(), "does not match %s", n.pattern) })
		}
		switch n.format {
		case "date-time":
			if _, err := parseTime(t); err != nil {
				return lazy(quiet, func() *ValidationError { return invalid(path.String(), "not an RFC 3339 time with offset") })
			}
		case "ipv4":
			if a, err := netip.ParseAddr(t); err != nil || !a.Is4() {
				return lazy(quiet, func() *ValidationError { return invalid(path.String(), "not an IPv4 address") })
			}
		case "ipv6":
			if a, err := netip.ParseAddr(t); err != nil || !a.Is6() || a.Zone() != "" {
				return lazy(quiet, func() *ValidationError { return invalid(path.String(), "not an IPv6 address") })
			}
		}
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return lazy(quiet, func() *ValidationError { return invalid(path.String(), "number out of range") })
		}
		if n.minimum != nil && f < *n.minimum {
			return lazy(quiet, func() *ValidationError { return invalid(path.String(), "less than %v", *n.minimum) })
		}
		if n.maximum != nil && f > *n.maximum {
			return lazy(quiet, func() *ValidationError { return invalid(path.String(), "greater than %v", *n.maximum) })
		}
	case map[string]any:
		for _, r := range n.required {
			if _, ok := t[r]; !ok {
				return lazy(quiet, func() *ValidationError { return invalid(path.member(r).String(), "required") })
			}
		}
		matched := 0
		for _, k := range n.propOrder {
			if mv, ok := t[k]; ok {
				matched++
				if e := cs.check(n.properties[k], mv, path.member(k), quiet); e != nil {
					return e
				}
			}
		}
		if n.noAdditional && matched < len(t) {
			var unknown []string
			for k := range t {
				if _, ok := n.properties[k]; !ok {
					unknown = append(unknown, k)
				}
			}
			sort.Strings(unknown)
			return lazy(quiet, func() *ValidationError { return invalid(path.member(unknown[0]).String(), "unknown field") })
		}
	case []any:
		if n.minItems >= 0 && len(t) < n.minItems {
			return lazy(quiet, func() *ValidationError { return invalid(path.String(), "fewer than %d items", n.minItems) })
		}
		if n.maxItems >= 0 && len(t) > n.maxItems {
			return lazy(quiet, func() *ValidationError { return invalid(path.String(), "more than %d items", n.maxItems) })
		}
		if n.items != nil {
			for i, e := range t {
				if err := cs.check(n.items, e, path.elem(i), quiet); err != nil {
					return err
				}
			}
		}
	}
	if len(n.anyOf) > 0 {
		ok := false
		for _, sub := range n.anyOf {
			if cs.check(sub, v, path, true) == nil {
				ok = true
				break
			}
		}
		if !ok {
			if quiet {
				return errProbe
			}
			var msgs []string
			for _, sub := range n.anyOf {
				msgs = append(msgs, cs.check(sub, v, path, false).Msg)
			}
			return lazy(quiet, func() *ValidationError { return invalid(path.String(), "%s", strings.Join(msgs, ", and ")) })
		}
	}
	if n.ref != "" {
		if e := cs.check(cs.defs[n.ref], v, path, quiet); e != nil {
			return e
		}
	}
	for _, sub := range n.allOf {
		if e := cs.check(sub, v, path, quiet); e != nil {
			return e
		}
	}
	if n.ifS != nil {
		if cs.check(n.ifS, v, path, true) == nil {
			if n.thenS != nil {
				return cs.check(n.thenS, v, path, quiet)
			}
		} else if n.elseS != nil {
			return cs.check(n.elseS, v, path, quiet)
		}
	}
	return nil
}

// jpath is a JSON path built as validation descends and rendered only
// when there is an error to report (rendering every member's path costs
// more than the checks themselves).
type jpath struct {
	parent *jpath
	key    string
	index  int
	isElem bool // index, not key, names this step
}

var rootPath = &jpath{}

func (p *jpath) member(k string) *jpath { return &jpath{parent: p, key: k} }
func (p *jpath) elem(i int) *jpath      { return &jpath{parent: p, index: i, isElem: true} }

func (p *jpath) String() string {
	if p.parent == nil {
		return "$"
	}
	var b strings.Builder
	p.parent.write(&b)
	p.writeSelf(&b)
	return b.String()
}

func (p *jpath) write(b *strings.Builder) {
	if p.parent == nil {
		b.WriteByte('$')
		return
	}
	p.parent.write(b)
	p.writeSelf(b)
}

func (p *jpath) writeSelf(b *strings.Builder) {
	switch {
	case p.isElem:
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(p.index))
		b.WriteByte(']')
	case isIdent(p.key):
		b.WriteByte('.')
		b.WriteString(p.key)
	default:
		b.WriteByte('[')
		b.WriteString(strconv.Quote(p.key))
		b.WriteByte(']')
	}
}

// isIdent reports whether key is an identifier ([A-Za-z_][A-Za-z0-9_]*),
// which a path prints as .key rather than ["key"]. A loop, not a regexp
// compiled at package initialisation in every run of the binary.
func isIdent(key string) bool {
	for i, c := range key {
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return key != ""
}

func hasType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		num, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := num.Float64()
		return err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53
	}
	return false
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	case json.Number:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, e1 := x.Float64()
		fy, e2 := y.Float64()
		return e1 == nil && e2 == nil && fx == fy
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false // objects and arrays are not used in const/enum here
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// parseTime parses an RFC 3339 time; the offset is mandatory (Z or ±hh:mm).
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	// time.Parse accepts a lower-case "z" and "t"; RFC 3339 allows them
	// too, so only insist that the year is four digits it actually read.
	if len(s) < 20 {
		return time.Time{}, fmt.Errorf("short time %q", s)
	}
	return t, nil
}
