package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/notary"
)

// TestMessageKinds: message.html shows a success as a success (green,
// role=status), an office's refusal as a notice, and an error as the alert
// it always was.
func TestMessageKinds(t *testing.T) {
	s := newSite(nil)
	back := message{Link: "/console/contracts/C-1", LinkZH: "返回合同", LinkEN: "Back to the contract"}
	rec := func(status string) notary.RequestRecord {
		r := notary.RequestRecord{Status: status}
		r.ID, r.Office = "NR-1", "office.example"
		return r
	}
	tests := []struct {
		name  string
		m     message
		title string
		want  string
	}{
		{"requested", notarizationMessage(back, rec(notary.RequestVerified)), "已申请公证", `<p class="alert success" role="status">`},
		{"issued", notarizationMessage(back, rec(notary.RequestIssued)), "已出具公证书", `<p class="alert success" role="status">`},
		{"refused", notarizationMessage(back, rec(notary.RequestRefused)), "公证处拒绝", `<p class="alert notice" role="status">`},
		{"csrf", msgCSRF, "请求无效", `<p class="alert error" role="alert">`},
		{"sign in", msgSignIn, "请先登录", `<p class="alert error" role="alert">`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest(http.MethodGet, "/console", nil)
			s.renderView(c, http.StatusOK, "message.html", view{Nav: "console", Data: tt.m})
			page := w.Body.String()
			if !strings.Contains(page, tt.title) || !strings.Contains(page, tt.want) {
				t.Errorf("page lacks %q or %q:\n%s", tt.title, tt.want, page)
			}
		})
	}
	css, err := staticFS.ReadFile("static/site.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{".alert.success {", ".alert.notice {"} {
		if !strings.Contains(string(css), rule) {
			t.Errorf("site.css has no %s rule", rule)
		}
	}
}
