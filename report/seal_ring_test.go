package report

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestSealRing: the issuer's name on the drawn seal reads like a seal's:
// no two characters overlap (CJK characters are twice as wide as Latin
// letters, so equal angles per character crowded 存证平台 into each
// other and onto the ring), the text stays on the upper arc inside the
// inner ring, and it stays legible.
func TestSealRing(t *testing.T) {
	const r = 16.0 // the seal's radius in signatureBlock
	for _, name := range []string{
		"cunzheng 存证平台",
		"杭州存证科技有限公司",
		"Hangzhou Evidence Archive Co., Ltd.",
		"北京某某电子认证服务有限公司存证中心",
		"北京某某电子认证服务有限公司电子合同存证中心（此名过长，会截短）",
		"存证",
	} {
		t.Run(name, func(t *testing.T) {
			d := newDoc(nil, "t", "t", "n", name, time.Unix(0, 0))
			gs := d.sealRing(name, r)
			if len(gs) == 0 {
				t.Fatal("no glyphs")
			}
			if all := len([]rune(strings.ReplaceAll(name, " ", ""))); len(gs) != all && !strings.Contains(name, "过长") {
				t.Errorf("%d of %d characters on the ring", len(gs), all)
			}
			for i, g := range gs {
				if g.size < 6 {
					t.Errorf("%q: %.1f pt, want at least 6", g.c, g.size)
				}
				if deg := g.angle * 180 / math.Pi; deg < -30.01 || deg > 210.01 {
					t.Errorf("%q at %.1f°, outside the upper arc (-30° to 210°)", g.c, deg)
				}
				if top := g.radius + 0.45*g.size*0.3528; top > r-2.2-0.15 {
					t.Errorf("%q reaches radius %.2f mm, over the inner ring at %.2f", g.c, top, r-2.2)
				}
				if i == 0 {
					continue
				}
				p := gs[i-1]
				gap := (p.angle-g.angle)*math.Min(p.radius, g.radius) - (p.width+g.width)/2
				if gap < 0.1 {
					t.Errorf("%q and %q overlap: %.2f mm apart at the baseline", p.c, g.c, gap)
				}
			}
		})
	}
}
