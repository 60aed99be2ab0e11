package web

import (
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/notary"
)

// fingerprintView is the /fingerprints page and its JSON.
type fingerprintView struct {
	// Query is the hash as typed; empty before a lookup.
	Query string `json:"query"`
	notary.Lookup
	// Logs are the origins the office follows, for the page's note on
	// which of them it holds leaves of.
	Logs []string `json:"-"`
}

// lookupFingerprint reads ?hash= (64 hex digits or base64) and looks it up
// in the office's own copies.
func (h *officeHandlers) lookupFingerprint(c *gin.Context) (fingerprintView, error) {
	v := fingerprintView{Query: strings.TrimSpace(c.Query("hash")), Logs: h.office.Origins()}
	if v.Query == "" {
		return v, nil
	}
	lh, err := parseLeafHash(v.Query)
	if err != nil {
		return v, err
	}
	v.Lookup, err = h.office.Lookup(c.Request.Context(), lh[:])
	return v, err
}

// fingerprintsPage serves GET /fingerprints?hash=H: whether the office
// holds leaf hash H, where, and its inclusion proof computed and checked
// from the office's own copy.
func (h *officeHandlers) fingerprintsPage(c *gin.Context) {
	v, err := h.lookupFingerprint(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, "fingerprints.html", "fingerprints", v)
}

// fingerprintsJSON serves GET /v1/fingerprints?hash=H.
func (h *officeHandlers) fingerprintsJSON(c *gin.Context) {
	v, err := h.lookupFingerprint(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	if v.Query == "" {
		h.fail(c, badRequest("give hash: a leaf hash, 64 hex digits or base64"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"leaf_hash": hex.EncodeToString(v.LeafHash), "found": len(v.Holdings) > 0,
		"holdings": v.Holdings, "logs_without_leaves": v.Unheld})
}
