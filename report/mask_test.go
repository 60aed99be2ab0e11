package report

import (
	"testing"
	"time"
)

func TestMask(t *testing.T) {
	tests := []struct {
		kind Kind
		in   string
		want string
	}{
		{KindIDNumber, "330101199001010000", "330101********0000"},
		{KindIDNumber, "33010119900101000X", "330101********000X"},
		{KindPhone, "18501775544", "185****5544"},
		{KindEmail, "yejianhua@example.com", "y***@example.com"},
		{KindEmail, "叶@example.com", "叶***@example.com"},
		{KindEmail, "@nolocal", "********"},
		{KindIP, "112.17.116.54", "112.17.*.*"},
		{KindIP, "::ffff:112.17.116.54", "112.17.*.*"},
		{KindIP, "2001:db8::1", "2001:db8:*"},
		{KindIP, "not-an-ip", "*********"},
		{KindName, "叶建华", "叶*华"},
		{KindName, "叶华", "叶*"},
		{KindName, "欧阳建华", "欧**华"},
		{KindBankCard, "6222021234567890123", "622202*********0123"},
		{KindAccount, "18501775544", "185****5544"},
		{KindAccount, "weimei_pan@bestsign.cn", "w***@bestsign.cn"},
		{KindPhone, "123", "***"},
		{Kind(99), "secret", "******"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Mask(tt.kind, tt.in); got != tt.want {
				t.Errorf("Mask(%d, %q) = %q, want %q", tt.kind, tt.in, got, tt.want)
			}
		})
	}
}

func TestPersonalShow(t *testing.T) {
	p := Personal{Kind: KindPhone, Value: "18501775544"}
	if got := p.Show(false); got != "185****5544" {
		t.Errorf("masked = %q", got)
	}
	if got := p.Show(true); got != "18501775544" {
		t.Errorf("revealed = %q", got)
	}
	e := Personal{Kind: KindIDNumber, Erased: true, ErasedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, reportZone), ErasureLeaf: 42}
	for _, reveal := range []bool{false, true} {
		if got, want := e.Show(reveal), "已销毁 erased 2026-03-01 (#42)"; got != want {
			t.Errorf("erased (reveal=%v) = %q, want %q", reveal, got, want)
		}
	}
}
