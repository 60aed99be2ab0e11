package cos

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
)

// Budget is the work allowance shared by every revision view of one file.
// It is not safe for concurrent use; one verification owns it.
type Budget struct {
	ctx      context.Context
	lim      Limits
	decoded  int64
	resolves int
	// Revisions share the objects they read at the same file offset:
	// the same bytes parse the same way, so a file with many incremental
	// updates costs its size, not its size times its revisions.
	parsed   map[int64]parsedObj
	objstm   map[int64]*objStm
	sections map[int64]*section
}

type parsedObj struct {
	ref Ref
	obj Object
	end int64
}

// NewBudget returns a budget bounded by lim and cancelled with ctx.
func NewBudget(ctx context.Context, lim Limits) *Budget {
	lim.fill()
	return &Budget{ctx: ctx, lim: lim, parsed: map[int64]parsedObj{}, objstm: map[int64]*objStm{}, sections: map[int64]*section{}}
}

func (b *Budget) spendResolve() error {
	b.resolves++
	if b.resolves > b.lim.MaxResolves {
		return fmt.Errorf("%w: more than %d objects loaded", ErrLimit, b.lim.MaxResolves)
	}
	if b.resolves%256 == 0 {
		if err := b.ctx.Err(); err != nil {
			return fmt.Errorf("cos: %w", err)
		}
	}
	return nil
}

type entry struct {
	typ byte // 0 free, 1 in file, 2 in object stream
	gen uint16
	off int64  // typ 1: byte offset
	stm uint32 // typ 2: object stream number
	idx int64  // typ 2: index inside the stream
}

// File is the document as it stood at the end of one revision: the
// cross-reference sections reachable from the startxref before End.
type File struct {
	data    []byte
	End     int64 // the revision ends here (exclusive)
	Trailer Dict
	// StartXref is the offset named by this revision's startxref.
	StartXref int64

	xref    map[uint32]entry
	section []uint32 // object numbers in the newest section
	budget  *Budget
	cache   map[uint32]Object
	spans   map[uint32][2]int64
	objstm  map[uint32]*objStm
	loading map[uint32]bool
	err     error
}

type objStm struct {
	data  []byte
	first int64
	offs  []int64 // by index
	nums  []uint32
}

// Open reads the revision of data that ends at end (which must be just past
// an %%EOF marker). data is the whole file; objects are read from it.
func Open(data []byte, end int64, b *Budget) (*File, error) {
	if end <= 0 || end > int64(len(data)) {
		return nil, fmt.Errorf("%w: revision end %d outside file", ErrMalformed, end)
	}
	f := &File{
		data: data, End: end, budget: b,
		xref:    map[uint32]entry{},
		cache:   map[uint32]Object{},
		spans:   map[uint32][2]int64{},
		objstm:  map[uint32]*objStm{},
		loading: map[uint32]bool{},
	}
	sx, err := findStartXref(data[:end])
	if err != nil {
		return nil, err
	}
	f.StartXref = sx
	seen := map[int64]bool{}
	off := sx
	for first := true; ; first = false {
		if seen[off] {
			return nil, fmt.Errorf("%w: cross-reference /Prev loop at %d", ErrMalformed, off)
		}
		if len(seen) >= 4096 {
			return nil, fmt.Errorf("%w: more than 4096 cross-reference sections", ErrLimit)
		}
		seen[off] = true
		sec, err := f.cachedSection(off)
		if err != nil {
			return nil, err
		}
		for i, ne := range sec.ents {
			if i%4096 == 4095 {
				if err := b.ctx.Err(); err != nil {
					return nil, fmt.Errorf("cos: %w", err)
				}
			}
			f.set(ne.num, ne.e)
		}
		trailer := sec.trailer
		if first {
			f.Trailer = trailer
			for _, ne := range sec.ents {
				f.section = append(f.section, ne.num)
			}
		}
		prev, ok := trailer["Prev"].(int64)
		if !ok {
			break
		}
		if prev < 0 || prev >= end {
			return nil, fmt.Errorf("%w: /Prev %d outside the revision", ErrMalformed, prev)
		}
		off = prev
	}
	return f, nil
}

// numEntry is one cross-reference entry of a section.
type numEntry struct {
	num uint32
	e   entry
}

// section is a parsed cross-reference section and its trailer.
type section struct {
	trailer Dict
	ents    []numEntry
}

// cachedSection parses the section at off once per file: every revision
// after it reaches it again through /Prev.
func (f *File) cachedSection(off int64) (*section, error) {
	if s, ok := f.budget.sections[off]; ok {
		return s, nil
	}
	if err := f.budget.spendResolve(); err != nil {
		return nil, err
	}
	trailer, ents, err := f.readSection(off)
	if err != nil {
		return nil, err
	}
	s := &section{trailer, ents}
	f.budget.sections[off] = s
	return s, nil
}

// findStartXref returns the offset after the last "startxref" in the tail.
func findStartXref(data []byte) (int64, error) {
	tail := data
	if len(tail) > 2048 {
		tail = tail[len(tail)-2048:]
	}
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return 0, fmt.Errorf("%w: no startxref", ErrMalformed)
	}
	l := &lexer{data: tail, pos: i + len("startxref")}
	tok, err := l.token()
	if err != nil {
		return 0, err
	}
	n, ok := tok.(int64)
	if !ok || n < 0 || n >= int64(len(data)) {
		return 0, fmt.Errorf("%w: bad startxref value", ErrMalformed)
	}
	return n, nil
}

// set records an entry unless a newer section already did.
func (f *File) set(num uint32, e entry) {
	if _, ok := f.xref[num]; !ok {
		f.xref[num] = e
	}
}

func (f *File) readSection(off int64) (Dict, []numEntry, error) {
	l := &lexer{data: f.data[:f.End], pos: int(off)}
	save := l.pos
	tok, err := l.token()
	if err != nil {
		return nil, nil, err
	}
	if tok == keyword("xref") {
		return f.readTable(l)
	}
	l.pos = save
	return f.readXrefStream(off)
}

func (f *File) readTable(l *lexer) (Dict, []numEntry, error) {
	maxObj := int64(f.budget.lim.MaxObjects)
	var ents []numEntry
	for {
		tok, err := l.token()
		if err != nil {
			return nil, nil, err
		}
		if tok == keyword("trailer") {
			break
		}
		start, ok1 := tok.(int64)
		t2, err := l.token()
		if err != nil {
			return nil, nil, err
		}
		count, ok2 := t2.(int64)
		if !ok1 || !ok2 || start < 0 || count < 0 || start+count > maxObj {
			return nil, nil, fmt.Errorf("%w: bad cross-reference subsection (%v %v)", ErrMalformed, tok, t2)
		}
		for i := int64(0); i < count; i++ {
			a, err1 := l.token()
			g, err2 := l.token()
			k, err3 := l.token()
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, nil, err
			}
			o, ok1 := a.(int64)
			gen, ok2 := g.(int64)
			if !ok1 || !ok2 || gen < 0 || gen > 65535 || (k != keyword("n") && k != keyword("f")) {
				return nil, nil, fmt.Errorf("%w: bad cross-reference entry", ErrMalformed)
			}
			num := uint32(start + i)
			if k == keyword("n") {
				ents = append(ents, numEntry{num, entry{typ: 1, gen: uint16(gen), off: o}})
			} else {
				ents = append(ents, numEntry{num, entry{typ: 0, gen: uint16(gen)}})
			}
		}
	}
	o, err := l.object(0, f.budget.lim.MaxDepth)
	if err != nil {
		return nil, nil, err
	}
	trailer, ok := o.(Dict)
	if !ok {
		return nil, nil, fmt.Errorf("%w: trailer is not a dictionary", ErrMalformed)
	}
	// A hybrid-reference file's table names an xref stream with the
	// entries that readers of PDF 1.5 and later also see (§7.5.8.4).
	if xs, ok := trailer["XRefStm"].(int64); ok && xs >= 0 && xs < f.End {
		_, more, err := f.readXrefStream(xs)
		if err != nil {
			return nil, nil, err
		}
		ents = append(ents, more...)
	}
	return trailer, ents, nil
}

func (f *File) readXrefStream(off int64) (Dict, []numEntry, error) {
	_, obj, _, err := f.parseIndirectAt(off)
	if err != nil {
		return nil, nil, err
	}
	s, ok := obj.(*Stream)
	if !ok || s.Dict["Type"] != Name("XRef") {
		return nil, nil, fmt.Errorf("%w: no cross-reference at %d", ErrMalformed, off)
	}
	maxObj := int64(f.budget.lim.MaxObjects)
	size, ok := s.Dict["Size"].(int64)
	if !ok || size < 0 || size > maxObj {
		return nil, nil, fmt.Errorf("%w: bad xref stream /Size", ErrMalformed)
	}
	w, _ := s.Dict["W"].(Array)
	if len(w) != 3 {
		return nil, nil, fmt.Errorf("%w: bad xref stream /W", ErrMalformed)
	}
	var ws [3]int
	for i := range ws {
		n, ok := w[i].(int64)
		if !ok || n < 0 || n > 8 {
			return nil, nil, fmt.Errorf("%w: bad xref stream /W", ErrMalformed)
		}
		ws[i] = int(n)
	}
	index := Array{int64(0), size}
	if ix, ok := s.Dict["Index"].(Array); ok {
		index = ix
	}
	if len(index)%2 != 0 {
		return nil, nil, fmt.Errorf("%w: bad xref stream /Index", ErrMalformed)
	}
	raw, err := f.decode(s)
	if err != nil {
		return nil, nil, err
	}
	rowLen := ws[0] + ws[1] + ws[2]
	if rowLen == 0 {
		return nil, nil, fmt.Errorf("%w: empty xref stream rows", ErrMalformed)
	}
	var ents []numEntry
	pos := 0
	for i := 0; i < len(index); i += 2 {
		start, ok1 := index[i].(int64)
		count, ok2 := index[i+1].(int64)
		if !ok1 || !ok2 || start < 0 || count < 0 || start+count > maxObj {
			return nil, nil, fmt.Errorf("%w: bad xref stream /Index", ErrMalformed)
		}
		for j := int64(0); j < count; j++ {
			if pos+rowLen > len(raw) {
				return nil, nil, fmt.Errorf("%w: xref stream too short", ErrMalformed)
			}
			row := raw[pos : pos+rowLen]
			pos += rowLen
			typ := int64(1)
			if ws[0] > 0 {
				typ = be(row[:ws[0]])
			}
			a := be(row[ws[0] : ws[0]+ws[1]])
			c := be(row[ws[0]+ws[1]:])
			num := uint32(start + j)
			switch typ {
			case 0:
				ents = append(ents, numEntry{num, entry{typ: 0}})
			case 1:
				if c > 65535 {
					c = 0
				}
				ents = append(ents, numEntry{num, entry{typ: 1, off: a, gen: uint16(c)}})
			case 2:
				if a < 0 || a >= maxObj {
					continue
				}
				ents = append(ents, numEntry{num, entry{typ: 2, stm: uint32(a), idx: c}})
			}
		}
	}
	return s.Dict, ents, nil
}

func be(b []byte) int64 {
	var n int64
	for _, c := range b {
		n = n<<8 | int64(c)
	}
	return n
}

// parseIndirectAt parses "num gen obj ... endobj" at off and returns the
// reference, the object and the offset just past it.
func (f *File) parseIndirectAt(off int64) (Ref, Object, int64, error) {
	if off < 0 || off >= f.End {
		return Ref{}, nil, 0, fmt.Errorf("%w: object offset %d outside the revision", ErrMalformed, off)
	}
	l := &lexer{data: f.data[:f.End], pos: int(off)}
	t1, _ := l.token()
	t2, _ := l.token()
	t3, err := l.token()
	if err != nil {
		return Ref{}, nil, 0, err
	}
	num, ok1 := t1.(int64)
	gen, ok2 := t2.(int64)
	if !ok1 || !ok2 || t3 != keyword("obj") || num < 0 || num > 1<<31 || gen < 0 || gen > 65535 {
		return Ref{}, nil, 0, fmt.Errorf("%w: no object at %d", ErrMalformed, off)
	}
	ref := Ref{uint32(num), uint16(gen)}
	obj, err := l.object(0, f.budget.lim.MaxDepth)
	if err != nil {
		return ref, nil, 0, err
	}
	save := l.pos
	tok, err := l.token()
	if err != nil || tok != keyword("stream") {
		l.pos = save
		if t, err := l.token(); err == nil && t == keyword("endobj") {
			return ref, obj, int64(l.pos), nil
		}
		return ref, obj, int64(save), nil
	}
	d, ok := obj.(Dict)
	if !ok {
		return ref, nil, 0, fmt.Errorf("%w: stream without dictionary at %d", ErrMalformed, off)
	}
	// The keyword stream is followed by CRLF or LF (§7.3.8.1).
	p := l.pos
	if p < len(l.data) && l.data[p] == '\r' {
		p++
	}
	if p < len(l.data) && l.data[p] == '\n' {
		p++
	}
	length := int64(-1)
	switch v := d["Length"].(type) {
	case int64:
		length = v
	case Ref:
		if f.xref != nil && !f.loading[v.Num] {
			if n, ok := f.Resolve(v).(int64); ok {
				length = n
			}
		}
	}
	if length < 0 || int64(p)+length > f.End || !endstreamAt(l.data, int(int64(p)+length)) {
		// Recover a wrong /Length by finding endstream, as viewers do.
		k := bytes.Index(l.data[p:], []byte("endstream"))
		if k < 0 {
			return ref, nil, 0, fmt.Errorf("%w: stream at %d has no end", ErrMalformed, off)
		}
		length = int64(k)
		for length > 0 && (l.data[p+int(length)-1] == '\n' || l.data[p+int(length)-1] == '\r') {
			length--
		}
	}
	s := &Stream{Dict: d, Offset: int64(p), Length: length}
	l.pos = p + int(length)
	end := int64(l.pos)
	if t, err := l.token(); err == nil && t == keyword("endstream") {
		end = int64(l.pos)
		save := l.pos
		if t, err := l.token(); err == nil && t == keyword("endobj") {
			end = int64(l.pos)
		} else {
			l.pos = save
		}
	}
	return ref, s, end, nil
}

func endstreamAt(data []byte, p int) bool {
	for p < len(data) && isSpace(data[p]) {
		p++
	}
	return bytes.HasPrefix(data[p:], []byte("endstream"))
}

// Err returns the first limit or cancellation error met while resolving.
// Accessors return zero values after such an error; callers check Err
// before trusting what they read.
func (f *File) Err() error { return f.err }

func (f *File) fail(err error) {
	if f.err == nil && (errors.Is(err, ErrLimit) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		f.err = err
	}
}

// Section returns the object numbers listed in this revision's own
// cross-reference section: the objects the revision added or replaced.
func (f *File) Section() []uint32 { return f.section }

// Has reports whether num is in use in this revision.
func (f *File) Has(num uint32) bool {
	e, ok := f.xref[num]
	return ok && e.typ != 0
}

// Span returns where the indirect object num lies in the file, when it is
// stored directly (not in an object stream).
func (f *File) Span(num uint32) (start, end int64, ok bool) {
	e, ok := f.xref[num]
	if !ok || e.typ != 1 {
		return 0, 0, false
	}
	if _, err := f.load(num); err != nil {
		return 0, 0, false
	}
	s, ok := f.spans[num]
	return s[0], s[1], ok
}

// Resolve follows o if it is a reference; a missing object is null.
func (f *File) Resolve(o Object) Object {
	r, ok := o.(Ref)
	if !ok {
		return o
	}
	e, ok := f.xref[r.Num]
	if !ok || e.typ == 0 || (e.typ == 1 && e.gen != r.Gen) {
		return nil
	}
	v, err := f.load(r.Num)
	if err != nil {
		f.fail(err)
		return nil
	}
	return v
}

func (f *File) load(num uint32) (Object, error) {
	if v, ok := f.cache[num]; ok {
		return v, nil
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.loading[num] {
		return nil, fmt.Errorf("%w: reference loop at object %d", ErrMalformed, num)
	}
	if err := f.budget.spendResolve(); err != nil {
		return nil, err
	}
	// Loading one object can load others (an indirect /Length, the object
	// stream holding it); bound that chain, which recursion would
	// otherwise follow as deep as the file makes it.
	if len(f.loading) >= 32 {
		return nil, fmt.Errorf("%w: object loads nested deeper than 32", ErrLimit)
	}
	f.loading[num] = true
	defer delete(f.loading, num)
	e := f.xref[num]
	var v Object
	switch e.typ {
	case 1:
		p, ok := f.budget.parsed[e.off]
		if !ok {
			ref, obj, end, err := f.parseIndirectAt(e.off)
			if err != nil {
				return nil, err
			}
			p = parsedObj{ref, obj, end}
			f.budget.parsed[e.off] = p
		}
		ref, obj, end := p.ref, p.obj, p.end
		if ref.Num != num {
			return nil, fmt.Errorf("%w: object %d not at its offset", ErrMalformed, num)
		}
		f.spans[num] = [2]int64{e.off, end}
		v = obj
	case 2:
		obj, err := f.fromObjStm(num, e)
		if err != nil {
			return nil, err
		}
		v = obj
	}
	f.cache[num] = v
	return v, nil
}

func (f *File) fromObjStm(num uint32, e entry) (Object, error) {
	os, ok := f.objstm[e.stm]
	if !ok && f.xref[e.stm].typ == 1 {
		os, ok = f.budget.objstm[f.xref[e.stm].off]
	}
	if !ok {
		if f.loading[e.stm] {
			return nil, fmt.Errorf("%w: object stream loop at %d", ErrMalformed, e.stm)
		}
		se, ok := f.xref[e.stm]
		if !ok || se.typ != 1 {
			return nil, fmt.Errorf("%w: object stream %d missing", ErrMalformed, e.stm)
		}
		sv, err := f.load(e.stm)
		if err != nil {
			return nil, err
		}
		s, ok := sv.(*Stream)
		if !ok || s.Dict["Type"] != Name("ObjStm") {
			return nil, fmt.Errorf("%w: object %d is not an object stream", ErrMalformed, e.stm)
		}
		n, _ := s.Dict["N"].(int64)
		first, _ := s.Dict["First"].(int64)
		raw, err := f.decode(s)
		if err != nil {
			return nil, err
		}
		if n < 0 || n > int64(len(raw))/2+1 || first < 0 || first > int64(len(raw)) {
			return nil, fmt.Errorf("%w: bad object stream header", ErrMalformed)
		}
		os = &objStm{data: raw, first: first}
		l := &lexer{data: raw[:first]}
		for i := int64(0); i < n; i++ {
			a, err1 := l.token()
			b, err2 := l.token()
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("%w: bad object stream header", ErrMalformed)
			}
			on, ok1 := a.(int64)
			oo, ok2 := b.(int64)
			if !ok1 || !ok2 || oo < 0 || first+oo > int64(len(raw)) || on < 0 || on > 1<<31 {
				return nil, fmt.Errorf("%w: bad object stream header", ErrMalformed)
			}
			os.nums = append(os.nums, uint32(on))
			os.offs = append(os.offs, first+oo)
		}
		f.objstm[e.stm] = os
		f.budget.objstm[se.off] = os
	}
	if e.idx < 0 || e.idx >= int64(len(os.offs)) || os.nums[e.idx] != num {
		return nil, fmt.Errorf("%w: object %d not in its object stream", ErrMalformed, num)
	}
	l := &lexer{data: os.data, pos: int(os.offs[e.idx])}
	return l.object(0, f.budget.lim.MaxDepth)
}

// Decode returns the decoded data of s, within the budget.
func (f *File) Decode(s *Stream) ([]byte, error) {
	b, err := f.decode(s)
	if err != nil {
		f.fail(err)
	}
	return b, err
}

func (f *File) decode(s *Stream) ([]byte, error) {
	if s.Offset < 0 || s.Length < 0 || s.Offset+s.Length > int64(len(f.data)) {
		return nil, fmt.Errorf("%w: stream outside the file", ErrMalformed)
	}
	data := f.data[s.Offset : s.Offset+s.Length]
	var filters []Object
	var parms []Object
	switch v := f.Resolve(s.Dict["Filter"]).(type) {
	case Name:
		filters = Array{v}
		parms = Array{f.Resolve(s.Dict["DecodeParms"])}
	case Array:
		filters = v
		if p, ok := f.Resolve(s.Dict["DecodeParms"]).(Array); ok {
			parms = p
		}
	}
	if len(filters) > 4 {
		return nil, fmt.Errorf("%w: more than 4 filters", ErrLimit)
	}
	for i, fo := range filters {
		name, _ := f.Resolve(fo).(Name)
		var parm Dict
		if i < len(parms) {
			parm, _ = f.Resolve(parms[i]).(Dict)
		}
		var err error
		switch name {
		case "FlateDecode", "Fl":
			data, err = f.inflate(data)
			if err == nil {
				data, err = unpredict(data, parm)
			}
		case "ASCIIHexDecode", "AHx":
			l := &lexer{data: append(append([]byte("<"), data...), '>')}
			var v any
			v, err = l.hexString()
			if err == nil {
				data = []byte(v.(String))
				if err := f.spend(int64(len(data))); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("%w: unsupported stream filter %q", ErrMalformed, string(name))
		}
		if err != nil {
			return nil, err
		}
	}
	return data, nil
}

func (f *File) spend(n int64) error {
	f.budget.decoded += n
	if f.budget.decoded > f.budget.lim.MaxDecoded {
		return fmt.Errorf("%w: decoded streams exceed %d bytes", ErrLimit, f.budget.lim.MaxDecoded)
	}
	return nil
}

// inflate decompresses zlib data, stopping at the budget so that a
// compression bomb costs at most the remaining allowance.
func (f *File) inflate(data []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: flate: %w", ErrMalformed, err)
	}
	remaining := f.budget.lim.MaxDecoded - f.budget.decoded
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(zr, remaining+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%w: flate: %w", ErrMalformed, err)
	}
	if err := f.spend(n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// unpredict undoes PNG predictors (§7.4.4.4), which xref streams use.
func unpredict(data []byte, parm Dict) ([]byte, error) {
	pred, _ := parm["Predictor"].(int64)
	if pred < 10 {
		if pred > 1 {
			return nil, fmt.Errorf("%w: TIFF predictor unsupported", ErrMalformed)
		}
		return data, nil
	}
	cols, ok := parm["Columns"].(int64)
	if !ok {
		cols = 1
	}
	colors, ok := parm["Colors"].(int64)
	if !ok {
		colors = 1
	}
	bpc, ok := parm["BitsPerComponent"].(int64)
	if !ok {
		bpc = 8
	}
	if cols <= 0 || cols > 1<<20 || colors <= 0 || colors > 32 || bpc <= 0 || bpc > 16 {
		return nil, fmt.Errorf("%w: bad predictor parameters", ErrMalformed)
	}
	bpp := int((colors*bpc + 7) / 8)
	rowLen := int((cols*colors*bpc + 7) / 8)
	out := make([]byte, 0, len(data))
	prev := make([]byte, rowLen)
	for len(data) > 0 {
		if len(data) < rowLen+1 {
			break
		}
		ft := data[0]
		row := append([]byte(nil), data[1:rowLen+1]...)
		data = data[rowLen+1:]
		for i := range row {
			var left, up, ul byte
			if i >= bpp {
				left = row[i-bpp]
				ul = prev[i-bpp]
			}
			up = prev[i]
			switch ft {
			case 0:
			case 1:
				row[i] += left
			case 2:
				row[i] += up
			case 3:
				row[i] += byte((int(left) + int(up)) / 2)
			case 4:
				row[i] += paeth(left, up, ul)
			default:
				return nil, fmt.Errorf("%w: bad PNG filter %d", ErrMalformed, ft)
			}
		}
		out = append(out, row...)
		prev = row
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Revisions returns the end offset of every revision: just past each
// "startxref N %%EOF" and its end-of-line, in file order. A file with none
// is not a PDF.
func Revisions(data []byte) []int64 {
	var ends []int64
	marker := []byte("%%EOF")
	pos := 0
	for {
		i := bytes.Index(data[pos:], marker)
		if i < 0 {
			break
		}
		at := pos + i
		pos = at + len(marker)
		// The marker must close a trailer: "startxref" shortly before it.
		lo := at - 64
		if lo < 0 {
			lo = 0
		}
		if !bytes.Contains(data[lo:at], []byte("startxref")) {
			continue
		}
		end := pos
		if end < len(data) && data[end] == '\r' {
			end++
		}
		if end < len(data) && data[end] == '\n' {
			end++
		}
		ends = append(ends, int64(end))
	}
	return ends
}

// Data returns the whole file.
func (f *File) Data() []byte { return f.data }

// Get returns object num whatever its generation; nil when it is free or
// missing.
func (f *File) Get(num uint32) Object {
	if !f.Has(num) {
		return nil
	}
	v, err := f.load(num)
	if err != nil {
		f.fail(err)
		return nil
	}
	return v
}

// Raw returns the undecoded bytes of s.
func (f *File) Raw(s *Stream) []byte {
	if s.Offset < 0 || s.Length < 0 || s.Offset+s.Length > int64(len(f.data)) {
		return nil
	}
	return f.data[s.Offset : s.Offset+s.Length]
}

// Objects returns the numbers of every object in use in this revision, in
// no particular order.
func (f *File) Objects() []uint32 {
	out := make([]uint32, 0, len(f.xref))
	for num, e := range f.xref {
		if e.typ != 0 {
			out = append(out, num)
		}
	}
	return out
}

// RefOf returns the reference that names object num in this revision.
func (f *File) RefOf(num uint32) (Ref, bool) {
	e, ok := f.xref[num]
	if !ok || e.typ == 0 {
		return Ref{}, false
	}
	return Ref{Num: num, Gen: e.gen}, true
}
