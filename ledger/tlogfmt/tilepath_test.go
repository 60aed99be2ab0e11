package tlogfmt

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestParseTilePath(t *testing.T) {
	tests := []struct {
		path string
		want TilePath
		ok   bool
	}{
		{"tile/0/000", TilePath{}, true},
		{"/tile/0/001", TilePath{Index: 1}, true},
		{"tile/1/x001/x234/067", TilePath{Level: 1, Index: 1234067}, true},
		{"tile/0/x001/x234/067.p/8", TilePath{Index: 1234067, Width: 8}, true},
		{"tile/entries/x001/000", TilePath{Entries: true, Index: 1000}, true},
		{"tile/entries/123.p/255", TilePath{Entries: true, Index: 123, Width: 255}, true},
		{"tile/63/000", TilePath{Level: 63}, true},
		{"tile/64/000", TilePath{}, false},
		{"tile/01/000", TilePath{}, false},
		{"tile/0/1", TilePath{}, false},
		{"tile/0/0001", TilePath{}, false},
		{"tile/0/001/234", TilePath{}, false},
		{"tile/0/x000/001", TilePath{}, false},
		{"tile/0/000.p/0", TilePath{}, false},
		{"tile/0/000.p/256", TilePath{}, false},
		{"tile/0/000.p/08", TilePath{}, false},
		{"tile/0/000.p/", TilePath{}, false},
		{"tile/0/-01", TilePath{}, false},
		{"tile/0/+01", TilePath{}, false},
		{"tile/0", TilePath{}, false},
		{"tile/data/000", TilePath{}, false},
		{"tile/8/0/000", TilePath{}, false},
		{"tiles/0/000", TilePath{}, false},
		{"tile/0/x018/x446/x744/x073/x709/x551/615", TilePath{Index: 1<<64 - 1}, true},
		{"tile/0/x018/x446/x744/x073/x709/x551/616", TilePath{}, false},
		{"tile/0/x001/x018/x446/x744/x073/x709/x551/615", TilePath{}, false},
		{"tile/0/x018/x446/x744/x073/x709/551/615", TilePath{}, false},
		{"tile/0/x018/x446/x744/x073/x709/551", TilePath{Index: 18446744073709551}, true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := ParseTilePath(tt.path)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseTilePath(%q) error = %v, want ok=%v", tt.path, err, tt.ok)
			}
			if tt.ok && got != tt.want {
				t.Fatalf("ParseTilePath(%q) = %+v, want %+v", tt.path, got, tt.want)
			}
		})
	}
}

func TestTilePathOf(t *testing.T) {
	tests := []struct {
		tile tlog.Tile
		want string
	}{
		{tlog.Tile{H: 8, L: 0, N: 1234067, W: 256}, "tile/0/x001/x234/067"},
		{tlog.Tile{H: 8, L: 2, N: 5, W: 17}, "tile/2/005.p/17"},
		{tlog.Tile{H: 8, L: -1, N: 1000, W: 256}, "tile/entries/x001/000"},
		{tlog.Tile{H: 8, L: -1, N: 3, W: 1}, "tile/entries/003.p/1"},
	}
	for _, tt := range tests {
		if got := TilePathOf(tt.tile).String(); got != tt.want {
			t.Errorf("TilePathOf(%+v) = %s, want %s", tt.tile, got, tt.want)
		}
	}
}

func FuzzParseTilePath(f *testing.F) {
	for _, s := range []string{"tile/0/000", "tile/1/x001/x234/067.p/8", "tile/entries/123.p/255", "tile/0/x000/001", "tile//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tp, err := ParseTilePath(p)
		if err != nil {
			return
		}
		// A parsed path formats back to itself: one resource, one path.
		if got := tp.String(); got != p && "/"+got != p {
			t.Fatalf("ParseTilePath(%q) = %+v formats as %q", p, tp, got)
		}
	})
}
