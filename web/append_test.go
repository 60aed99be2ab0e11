package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLogAppend: POST /v1/log/leaves appends one leaf for a bearer of the
// token, and refuses anyone else without appending.
func TestLogAppend(t *testing.T) {
	_, l := newLogServer(t, 0)
	const token = "append-token-of-the-test"
	h := New(Config{Log: l, Mounts: []Mount{MountLogAppend(l, token, nil)}})
	post := func(auth, leaf string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/log/leaves", strings.NewReader(leaf))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer append-token-of-another", http.StatusUnauthorized},
		{"not a bearer", token, http.StatusUnauthorized},
	} {
		if w := post(tc.auth, "refused leaf"); w.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.status)
		}
	}
	if l.Size() != 0 {
		t.Fatalf("refused appends changed the log: size %d", l.Size())
	}
	w := post("Bearer "+token, "leaf one")
	var r struct {
		Index    uint64 `json:"index"`
		TreeSize uint64 `json:"tree_size"`
		LeafHash string `json:"leaf_hash"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &r) != nil || r.Index != 0 || r.TreeSize != 1 || r.LeafHash == "" {
		t.Fatalf("append: %d %s", w.Code, w.Body)
	}
	if got, err := l.Leaf(t.Context(), 0); err != nil || string(got) != "leaf one" {
		t.Errorf("leaf 0 = %q, %v", got, err)
	}
}
