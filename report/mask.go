package report

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind says what a personal value is, which chooses its mask.
type Kind uint8

// Kinds of personal values. KindAccount is a login account that may be a
// phone number or an e-mail address; it is masked as whichever it looks like.
const (
	KindName Kind = iota + 1
	KindIDNumber
	KindPhone
	KindEmail
	KindIP
	KindBankCard
	KindAccount
	// KindText is free text that may name people (a rejection reason): it
	// is withheld whole unless revealed.
	KindText
)

// Personal is one personal value (个人信息) as opened from the sealed record.
// Reports mask it unless the request reveals personal data. An erased value
// (its subject's key destroyed) has no Value, only the erasure's leaf index.
type Personal struct {
	Kind  Kind
	Value string
	// Erased is set when the value was destroyed by crypto-shredding;
	// ErasureLeaf is the data.erased event's leaf index (0 when unknown).
	Erased      bool
	ErasedAt    time.Time
	ErasureLeaf uint64
}

// Same reports whether p and q name the same party: equal values, or both
// destroyed by the same erasure (one data.erased leaf is one subject), so
// that an erased signer's checks stay listed with the signer.
func (p Personal) Same(q Personal) bool {
	if p.Erased || q.Erased {
		return p.Erased && q.Erased && p.ErasureLeaf != 0 && p.ErasureLeaf == q.ErasureLeaf
	}
	return p.Value != "" && p.Value == q.Value
}

// Key is a map key for the party p names (see Same); "" when none.
func (p Personal) Key() string {
	switch {
	case p.Erased && p.ErasureLeaf != 0:
		return fmt.Sprintf("\x00erased#%d", p.ErasureLeaf)
	case p.Erased:
		return ""
	}
	return p.Value
}

// Show returns the text a report prints: the value masked, the value itself
// when reveal is set, or an erasure notice naming the data.erased leaf.
func (p Personal) Show(reveal bool) string {
	switch {
	case p.Erased && p.ErasureLeaf == 0:
		// The evidence store did not say which data.erased leaf it was.
		return fmt.Sprintf("已销毁 erased %s", p.ErasedAt.In(reportZone).Format("2006-01-02"))
	case p.Erased:
		return fmt.Sprintf("已销毁 erased %s (#%d)", p.ErasedAt.In(reportZone).Format("2006-01-02"), p.ErasureLeaf)
	case p.Value == "":
		return ""
	case reveal:
		return p.Value
	}
	return Mask(p.Kind, p.Value)
}

// Mask masks v as a value of kind k, the way Chinese platforms display
// personal data (GB/T 35273 de-identification in display): an ID number
// keeps its region code and last four (330101********0000), a phone its
// first three and last four (185****5544), an e-mail its first letter and
// domain (y***@example.com), an IPv4 address its first two octets
// (112.17.*.*), a name its first and last character (叶*华).
func Mask(k Kind, v string) string {
	switch k {
	case KindName:
		return MaskName(v)
	case KindIDNumber:
		return MaskIDNumber(v)
	case KindPhone:
		return MaskPhone(v)
	case KindEmail:
		return MaskEmail(v)
	case KindIP:
		return MaskIP(v)
	case KindBankCard:
		return keepEnds(v, 6, 4)
	case KindText:
		return fmt.Sprintf("〔已脱敏 withheld, %d 字 chars〕", utf8.RuneCountInString(v))
	case KindAccount:
		if strings.Contains(v, "@") {
			return MaskEmail(v)
		}
		return MaskPhone(v)
	}
	// An unknown kind shows nothing rather than leak.
	return strings.Repeat("*", min(utf8.RuneCountInString(v), 8))
}

// MaskIDNumber keeps the six-digit region code and the last four characters.
func MaskIDNumber(v string) string { return keepEnds(v, 6, 4) }

// MaskPhone keeps the first three and the last four digits.
func MaskPhone(v string) string { return keepEnds(v, 3, 4) }

// MaskEmail keeps the first character of the local part and the domain.
func MaskEmail(v string) string {
	at := strings.LastIndexByte(v, '@')
	if at <= 0 {
		return keepEnds(v, 0, 0)
	}
	r, _ := utf8.DecodeRuneInString(v)
	return string(r) + "***" + v[at:]
}

// MaskIP keeps the first two octets of an IPv4 address and the first two
// groups (a /32) of an IPv6 address.
func MaskIP(v string) string {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return keepEnds(v, 0, 0)
	}
	if a.Is4() || a.Is4In6() {
		b := a.Unmap().As4()
		return fmt.Sprintf("%d.%d.*.*", b[0], b[1])
	}
	b := a.As16()
	return fmt.Sprintf("%x:%x:*", uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|uint16(b[3]))
}

// MaskName keeps the first and, for names of three or more characters, the
// last character.
func MaskName(v string) string {
	r := []rune(v)
	switch len(r) {
	case 0:
		return ""
	case 1:
		return "*"
	case 2:
		return string(r[0]) + "*"
	}
	return string(r[0]) + strings.Repeat("*", len(r)-2) + string(r[len(r)-1])
}

// keepEnds keeps the first head and last tail runes and stars the rest; a
// value too short to keep both ends is starred whole.
func keepEnds(v string, head, tail int) string {
	r := []rune(v)
	if len(r) <= head+tail {
		return strings.Repeat("*", len(r))
	}
	return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
}
