package web

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/ledger"
)

// TestErrorWordsChineseFirst: every client error an API caller can meet
// reads Chinese first, English detail after; a message that brings its own
// Chinese is left whole, and a server error shows no detail.
func TestErrorWordsChineseFirst(t *testing.T) {
	for _, tc := range []struct {
		err        error
		wantStatus int
		want       string
	}{
		{fmt.Errorf("evidence: %w", evidence.ErrIDConflict), http.StatusConflict,
			"事件编号已用于另一个不同的事件 / evidence: " + evidence.ErrIDConflict.Error()},
		{evidence.ErrUnauthorized, http.StatusUnauthorized, "缺少 API 密钥或密钥未知 / " + evidence.ErrUnauthorized.Error()},
		{notFound("not found"), http.StatusNotFound, "未找到 / not found"},
		{badRequest("bad page"), http.StatusBadRequest, "请求不正确 / bad page"},
		{fmt.Errorf("签署的合同未发送 / never sent: %w", evidence.ErrInconsistent), http.StatusUnprocessableEntity,
			"签署的合同未发送 / never sent: " + evidence.ErrInconsistent.Error()},
		{errors.New("disk on fire"), http.StatusInternalServerError, "disk on fire"},
		{ledger.ErrStorage, http.StatusServiceUnavailable, ledger.ErrStorage.Error()},
	} {
		status, zh := classify(tc.err)
		if status != tc.wantStatus {
			t.Errorf("%v: status %d, want %d", tc.err, status, tc.wantStatus)
		}
		if got := chineseFirst(zh, tc.err.Error()); got != tc.want {
			t.Errorf("%v: message %q, want %q", tc.err, got, tc.want)
		}
	}
	for _, r := range statusRules {
		if r.status < 500 && r.zh == "" {
			t.Errorf("%v (%d) has no Chinese words", r.err, r.status)
		}
	}
}
