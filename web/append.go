package web

import (
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/ledger"
)

// MountLogAppend serves POST /v1/log/leaves to bearers of token: the body
// is one leaf, the answer its receipt. Business events go through
// /v1/events; this endpoint exists for load tests (bench, the failover
// tests) and operators' tools, behind its own bearer token (cunzheng serve
// --append-token-file).
func MountLogAppend(l *ledger.Log, token string, logger *slog.Logger) Mount {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := func(ctx *gin.Context) {
		got, ok := strings.CutPrefix(ctx.GetHeader("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			ctx.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "缺少或错误的令牌 / missing or wrong bearer token"})
			return
		}
		leaf, err := io.ReadAll(io.LimitReader(ctx.Request.Body, ledger.MaxLeafSize+1))
		if err != nil {
			ctx.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "读取请求失败 / reading the body: " + err.Error()})
			return
		}
		rec, err := l.Append(ctx.Request.Context(), leaf)
		if err != nil {
			status := http.StatusInternalServerError
			switch {
			case errors.Is(err, ledger.ErrTooLarge):
				status = http.StatusRequestEntityTooLarge
			case errors.Is(err, ledger.ErrPushback), errors.Is(err, ledger.ErrClosed), errors.Is(err, ledger.ErrStorage):
				status = http.StatusServiceUnavailable
				ctx.Header("Retry-After", "1")
			case ctx.Request.Context().Err() != nil:
				status = http.StatusServiceUnavailable
			}
			if status == http.StatusInternalServerError {
				logger.Error("append failed", "err", err)
			}
			ctx.AbortWithStatusJSON(status, gin.H{"error": "暂时无法追加 / append failed: " + err.Error()})
			return
		}
		ctx.JSON(http.StatusOK, gin.H{"index": rec.Index, "tree_size": rec.TreeSize, "duplicate": rec.Duplicate, "leaf_hash": rec.Hash.String()})
	}
	return func(r gin.IRouter) { r.POST("/v1/log/leaves", h) }
}
