package web

import (
	"cmp"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// The keys page (/keys, GET /v1/keys): everything a court or a notary pins
// to check what the archive's reports claim, each with a fingerprint to
// compare against a copy obtained elsewhere. Public, static for the life
// of the process.

// PublishedKeys is what the keys page publishes.
type PublishedKeys struct {
	// Log are the log's verifier keys (C2SP signed-note verifier keys:
	// Ed25519, then SM2/SM3).
	Log []string
	// Notaries are the notary offices' cosignature verifier keys.
	Notaries []string
	// TSA are the DER certificates RFC 3161 tokens chain to.
	TSA [][]byte
	// ReportSigning are the DER certificates of the document signer of
	// issued PDFs: its own certificate, then its CA chain.
	ReportSigning [][]byte
	// PublicURL is the address the public reaches the archive at
	// (serve --public-url), which the printed commands name. The default
	// is the scheme and host the page was requested with.
	PublicURL string
}

// publishedKey is one verifier key as the page shows it.
type publishedKey struct {
	Name string `json:"name"`
	// Type is "Ed25519", "SM2/SM3", "cosignature/v1 (Ed25519)" or the
	// key's type byte in hex.
	Type string `json:"type"`
	Key  string `json:"key"`
	// SHA256 is the hex SHA-256 of Key, the text line exactly as shown.
	SHA256 string `json:"sha256"`
}

// publishedCert is one certificate as the page shows it.
type publishedCert struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	CA        bool      `json:"ca"`
	// SHA256 is the hex SHA-256 of the DER bytes, as the page's printed
	// `openssl x509 -in CERT.pem -outform DER | sha256sum` prints it.
	SHA256 string `json:"sha256"`
	PEM    string `json:"pem"`
}

type keysView struct {
	Log           []publishedKey  `json:"log"`
	Notaries      []publishedKey  `json:"notaries"`
	TSA           []publishedCert `json:"tsa"`
	ReportSigning []publishedCert `json:"reportSigning"`
	// URL is the archive's address for the printed commands (page only).
	URL string `json:"-"`
}

// The files the printed commands fetch: what `cunzheng verify pdf` takes
// as --trust-roots (a directory of PEM files) and --ledger-keys.
const (
	keysRootsPath  = "/keys/trust-roots.pem"
	keysLedgerPath = "/keys/ledger-keys.txt"
)

// MountKeys returns the mount for web.Config.Mounts that serves
//
//	GET /keys      the keys page
//	GET /v1/keys   the same as JSON
func MountKeys(k PublishedKeys, logger *slog.Logger) Mount {
	v := keysView{Log: []publishedKey{}, Notaries: []publishedKey{}, TSA: []publishedCert{}, ReportSigning: []publishedCert{}}
	for _, s := range k.Log {
		v.Log = append(v.Log, describeKey(s))
	}
	for _, s := range k.Notaries {
		v.Notaries = append(v.Notaries, describeKey(s))
	}
	for _, der := range k.TSA {
		v.TSA = append(v.TSA, describeCert(der))
	}
	for _, der := range k.ReportSigning {
		v.ReportSigning = append(v.ReportSigning, describeCert(der))
	}
	roots, ledgerKeys := trustRootsPEM(k), strings.Join(append(slices.Clone(k.Log), k.Notaries...), "\n")+"\n"
	s := defaultSite().withLogger(logger)
	return func(r gin.IRouter) {
		r.GET("/keys", func(c *gin.Context) {
			page := v
			page.URL = cmp.Or(k.PublicURL, requestURL(c))
			s.render(c, http.StatusOK, "keys.html", "keys", page)
		})
		r.GET(keysRootsPath, func(c *gin.Context) {
			c.Header("Cache-Control", "public, max-age=300")
			c.Data(http.StatusOK, "application/x-pem-file", roots)
		})
		r.GET(keysLedgerPath, func(c *gin.Context) {
			c.Header("Cache-Control", "public, max-age=300")
			c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(ledgerKeys))
		})
		r.GET("/v1/keys", func(c *gin.Context) {
			c.Header("Cache-Control", "public, max-age=300")
			c.JSON(http.StatusOK, v)
		})
	}
}

// trustRootsPEM is every CA certificate a reader pins to check an issued
// PDF: the report-signing CA chain and the TSA roots, each once.
func trustRootsPEM(k PublishedKeys) []byte {
	var out []byte
	seen := map[string]bool{}
	for _, der := range append(slices.Clone(k.ReportSigning), k.TSA...) {
		c, err := x509.ParseCertificate(der)
		if err != nil || !c.IsCA || seen[string(der)] {
			continue
		}
		seen[string(der)] = true
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// requestURL is the scheme and host a page was requested with: the
// address the reader used, when serve has no --public-url.
func requestURL(c *gin.Context) string {
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

type keyRowsData struct {
	Lang string
	Keys []publishedKey
}

type certRowsData struct {
	Lang  string
	Certs []publishedCert
}

var keysFuncs = map[string]any{
	"keyRows":  func(lang string, k []publishedKey) keyRowsData { return keyRowsData{lang, k} },
	"certRows": func(lang string, c []publishedCert) certRowsData { return certRowsData{lang, c} },
}

// describeKey names a verifier key by its type, parsed with the program's
// one key parser (tlogfmt); a key it refuses is published with the reason.
func describeKey(vkey string) publishedKey {
	sum := sha256.Sum256([]byte(vkey))
	pk := publishedKey{Key: vkey, SHA256: hex.EncodeToString(sum[:])}
	v, err := tlogfmt.NewVerifier(vkey)
	if err != nil {
		pk.Type = "invalid: " + err.Error()
		return pk
	}
	pk.Name = v.Name()
	if _, ok := v.(*tlogfmt.SM2Verifier); ok {
		pk.Type = "SM2/SM3"
		return pk
	}
	// name+hash+base64(type || key): the type byte names the rest.
	parts := strings.SplitN(vkey, "+", 3)
	raw, _ := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	switch {
	case len(raw) > 0 && raw[0] == tlogfmt.TypeEd25519:
		pk.Type = "Ed25519"
	case len(raw) > 0 && raw[0] == tlogfmt.TypeCosignature:
		pk.Type = "cosignature/v1 (Ed25519)"
	case len(raw) > 0:
		pk.Type = fmt.Sprintf("0x%02x", raw[0])
	}
	return pk
}

func describeCert(der []byte) publishedCert {
	sum := sha256.Sum256(der)
	pc := publishedCert{SHA256: hex.EncodeToString(sum[:]),
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
	// SM2 certificates parse with crypto/x509 too (the curve is unknown to
	// it, the names and dates are not); a certificate that does not parse
	// is still published by its bytes.
	if c, err := x509.ParseCertificate(der); err == nil {
		pc.Subject, pc.Issuer = c.Subject.String(), c.Issuer.String()
		pc.Serial = strings.ToUpper(c.SerialNumber.Text(16))
		pc.NotBefore, pc.NotAfter, pc.CA = c.NotBefore.UTC(), c.NotAfter.UTC(), c.IsCA
	}
	return pc
}
