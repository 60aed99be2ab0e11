package notary

import (
	"context"
	"path/filepath"
	"testing"
)

// TestOpenBuiltin: serve's built-in office is named after the log's origin
// (made a valid key name), cosigns the log it is given the key of, and
// keeps its key, name included, across restarts.
func TestOpenBuiltin(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lg := newTestLog(t, "cunzheng.example/log")
	open := func(origin string) *Office {
		o, err := OpenBuiltin(ctx, Config{Dir: filepath.Join(dir, "db")}, filepath.Join(dir, "keys", "notary.key"), origin, lg.VKey)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	o := open("cunzheng.example/my log+1")
	if want := "notary.builtin.cunzheng.example/my-log-1"; o.Name() != want {
		t.Errorf("name %q, want %q", o.Name(), want)
	}
	lg.Append(3)
	s := lg.Publish()
	cosig, err := o.AddCheckpoint(ctx, req(0, nil, lg.Notes[s]))
	if err != nil {
		t.Fatal(err)
	}
	verifyCosig(t, o, lg.Notes[s], cosig)
	vkey := o.VerifierKey()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = open("another.example/log")
	defer o.Close()
	if o.VerifierKey() != vkey {
		t.Errorf("restart made a new key: %s, was %s", o.VerifierKey(), vkey)
	}
	if _, err := OpenBuiltin(ctx, Config{Dir: filepath.Join(t.TempDir(), "db")}, filepath.Join(t.TempDir(), "k"), "x", "not-a-key"); err == nil {
		t.Error("a malformed log key was taken")
	}
}
