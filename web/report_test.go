package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/reporttest"
	"github.com/cunzheng/cunzheng/verify"
)

// reportSource serves the demo contract to tenant "t_a" only.
type reportSource struct{ c *report.Contract }

func (s reportSource) Contract(_ context.Context, tenant, id string, reveal bool) (*report.Contract, error) {
	if tenant != "t_a" || id != s.c.ID {
		return nil, report.ErrNotFound
	}
	return s.c, nil
}

type reportCustody struct {
	mu     sync.Mutex
	issued []report.Issuance
}

func (c *reportCustody) Issued(_ context.Context, is report.Issuance) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.issued = append(c.issued, is)
	return uint64(len(c.issued)), nil
}

// fakeAuth stands in for RequireTenant: the API key is the tenant id, and
// keys starting "ingest-" have only the ingest role.
func fakeAuth(c *gin.Context) {
	key := c.GetHeader("X-Test-Key")
	if key == "" {
		abortWithError(c, slogDiscard(), evidence.ErrUnauthorized)
		return
	}
	p := evidence.Principal{Tenant: evidence.Tenant{ID: key}, Roles: []evidence.Role{evidence.RoleLegal}}
	if key == "ingest-t_a" {
		p = evidence.Principal{Tenant: evidence.Tenant{ID: "t_a"}, Roles: []evidence.Role{evidence.RoleIngest}}
	}
	c.Set(principalKey, p)
	c.Next()
}

func TestReportRoutes(t *testing.T) {
	f, err := reporttest.Build(reporttest.Options{Reveal: true})
	if err != nil {
		t.Fatal(err)
	}
	cust := &reportCustody{}
	svc, err := report.New(report.Config{KeyDir: t.TempDir(), Source: reportSource{f.Contract}, Custody: cust})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	MountReports(svc, fakeAuth, nil)(r)
	id := f.Contract.ID
	get := func(path, key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if key != "" {
			req.Header.Set("X-Test-Key", key)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	for _, doc := range []struct{ path, ctype string }{
		{"/v1/contracts/" + id + "/certificate.pdf", "application/pdf"},
		{"/v1/contracts/" + id + "/evidence-report.pdf", "application/pdf"},
		{"/v1/contracts/" + id + "/evidence-bundle.zip", "application/zip"},
	} {
		t.Run(doc.path, func(t *testing.T) {
			before := len(cust.issued)
			w := get(doc.path, "t_a")
			if w.Code != http.StatusOK || w.Header().Get("Content-Type") != doc.ctype || w.Header().Get("X-Report-Number") == "" {
				t.Fatalf("owner: %d %s", w.Code, w.Body.String())
			}
			if len(cust.issued) != before+1 || cust.issued[before].Revealed || cust.issued[before].Tenant != "t_a" {
				t.Errorf("report.issued not recorded as masked for t_a: %+v", cust.issued[before:])
			}
			if doc.ctype == "application/zip" {
				// Masked: the bundle opens no commitment.
				res, err := verify.Bundle(w.Body.Bytes(), verify.BundleOptions{})
				if err != nil {
					t.Fatalf("served bundle does not verify: %v", err)
				}
				if len(res.Manifest.Openings) != 0 {
					t.Errorf("masked bundle opens %d commitments", len(res.Manifest.Openings))
				}
			}
			if w := get(doc.path, "t_b"); w.Code != http.StatusNotFound {
				t.Errorf("other tenant: %d, want 404", w.Code)
			}
			if w := get("/v1/contracts/nope/"+doc.path[len("/v1/contracts/"+id+"/"):], "t_a"); w.Code != http.StatusNotFound {
				t.Errorf("absent contract: %d, want 404", w.Code)
			}
			if w := get(doc.path, ""); w.Code != http.StatusUnauthorized {
				t.Errorf("no key: %d, want 401", w.Code)
			}
			if w := get(doc.path+"?reveal=maybe", "t_a"); w.Code != http.StatusBadRequest {
				t.Errorf("bad reveal: %d, want 400", w.Code)
			}
			if w := get(doc.path+"?reveal=true", "ingest-t_a"); w.Code != http.StatusForbidden {
				t.Errorf("reveal on an ingest key: %d, want 403", w.Code)
			}
			n := len(cust.issued)
			if w := get(doc.path+"?reveal=true", "t_a"); w.Code != http.StatusOK || !cust.issued[n].Revealed {
				t.Errorf("reveal on a legal key: %d, issued %+v", w.Code, cust.issued[n:])
			}
		})
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
