package tlogfmt

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// TilePath is a parsed C2SP tlog-tiles resource path: what the log serves
// (web), stores in object storage (ledger/cluster) and a pulling office
// fetches (notary).
type TilePath struct {
	// Entries is true for an entry bundle (tile/entries/...).
	Entries bool
	// Level is the tile level (0-63); zero for entry bundles.
	Level uint8
	// Index is the tile index N.
	Index uint64
	// Width is the partial width (1-255), or 0 for a full tile.
	Width int
}

// TilePathOf returns the path of the tile sumdb/tlog names t: it counts a
// full tile's width as 256 where the path leaves it out, and marks data
// (entry) tiles with level -1.
func TilePathOf(t tlog.Tile) TilePath {
	w := t.W
	if w == 1<<8 { // a full tile of height 8
		w = 0
	}
	if t.L < 0 {
		return TilePath{Entries: true, Index: uint64(t.N), Width: w}
	}
	return TilePath{Level: uint8(t.L), Index: uint64(t.N), Width: w}
}

// String returns the canonical path, without a leading slash.
func (t TilePath) String() string {
	var b strings.Builder
	b.WriteString("tile/")
	if t.Entries {
		b.WriteString("entries")
	} else {
		b.WriteString(strconv.Itoa(int(t.Level)))
	}
	b.WriteByte('/')
	b.WriteString(encodeTileIndex(t.Index))
	if t.Width > 0 {
		fmt.Fprintf(&b, ".p/%d", t.Width)
	}
	return b.String()
}

func encodeTileIndex(n uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

// ParseTilePath parses "tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]"
// (with or without a leading slash) exactly as C2SP tlog-tiles spells them:
// no extra leading zeroes in L or W, N in zero-padded 3-digit elements all
// but the last prefixed with x. Anything else is an error, so that one
// resource has one path (caches and immutability depend on it).
// Spec: https://c2sp.org/tlog-tiles
func ParseTilePath(p string) (TilePath, error) {
	bad := func(why string) (TilePath, error) {
		return TilePath{}, fmt.Errorf("tlogfmt: %w tile path %q: %s", ErrMalformed, p, why)
	}
	rest, ok := strings.CutPrefix(strings.TrimPrefix(p, "/"), "tile/")
	if !ok {
		return bad("must start with tile/")
	}
	var t TilePath
	first, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("missing index")
	}
	if first == "entries" {
		t.Entries = true
	} else {
		l, err := parseBoundedDecimal(first, 63)
		if err != nil {
			return bad("level: " + err.Error())
		}
		t.Level = uint8(l)
	}
	if idx, w, ok := strings.Cut(rest, ".p/"); ok {
		width, err := parseBoundedDecimal(w, 255)
		if err != nil || width == 0 {
			return bad("partial width must be 1-255")
		}
		t.Width = int(width)
		rest = idx
	}
	elems := strings.Split(rest, "/")
	if len(elems) > 7 { // 2^64 has 20 digits: at most 7 elements
		return bad("index too long")
	}
	var n uint64
	for i, e := range elems {
		if i < len(elems)-1 {
			var ok bool
			if e, ok = strings.CutPrefix(e, "x"); !ok {
				return bad("index elements but the last must start with x")
			}
		}
		if len(e) != 3 || strings.Trim(e, "0123456789") != "" {
			return bad("index elements must be 3 digits")
		}
		d, _ := strconv.ParseUint(e, 10, 64)
		if n > (^uint64(0)-d)/1000 {
			return bad("index overflows")
		}
		n = n*1000 + d
	}
	// Canonical form only: no leading all-zero elements (x000/001).
	if len(elems) > 1 && elems[0] == "x000" {
		return bad("index has leading zero elements")
	}
	t.Index = n
	return t, nil
}

// parseBoundedDecimal parses a canonical decimal (ParseDecimal) no larger
// than max.
func parseBoundedDecimal(s string, max uint64) (uint64, error) {
	v, err := ParseDecimal(s)
	if err != nil {
		return 0, err
	}
	if v > max {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return v, nil
}
