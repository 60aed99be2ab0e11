package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/notary/client"
)

// OfficeRow is one notary office as the log's pages show it: who it is,
// how far it cosigned and how long ago, and its alarms.
type OfficeRow struct {
	client.OfficeStatus
	// AgeZh and AgeEn say how long ago the office last cosigned ("" when
	// it never did).
	AgeZh, AgeEn string
	// AlarmsURL is where both conflicting notes of its alarms are shown:
	// the office's own /alarms page, or this log's /notaries for the
	// built-in office.
	AlarmsURL string
	// Entries are the alarms in full, both notes included; known for the
	// built-in office only (a remote office shows them at AlarmsURL).
	Entries []notary.AlarmEntry
}

// NotaryAlarms returns, for the log's pages, every office the log pushes
// to or fetches from with its alarms. It is nil-safe: without a pusher it
// returns none.
func (p NotariesPage) NotaryAlarms(ctx context.Context) ([]OfficeRow, error) {
	return p.offices(ctx, time.Now())
}

func (p NotariesPage) offices(ctx context.Context, now time.Time) ([]OfficeRow, error) {
	if p.Pusher == nil {
		return nil, nil
	}
	var builtin []notary.AlarmEntry
	if p.Office != nil {
		a, err := p.Office.AlarmEntries(ctx)
		if err != nil {
			return nil, err
		}
		builtin = a
	}
	var out []OfficeRow
	for _, n := range p.Pusher.Status().Notaries {
		r := OfficeRow{OfficeStatus: n}
		if !n.Time.IsZero() {
			r.AgeZh, r.AgeEn = age(now.Sub(n.Time))
		}
		if n.URL == "" {
			r.AlarmsURL, r.Entries = "/notaries#alarms", builtin
			// The built-in office's alarms are read here, not polled.
			r.Alarms, r.Unacknowledged = len(builtin), notary.Unacknowledged(builtin)
		} else {
			r.AlarmsURL = strings.TrimRight(n.URL, "/") + "/alarms"
		}
		out = append(out, r)
	}
	return out, nil
}

// UnackedOffices returns the offices of rows holding alarms no operator
// acknowledged.
func UnackedOffices(rows []OfficeRow) []OfficeRow {
	var out []OfficeRow
	for _, r := range rows {
		if r.Unacknowledged > 0 {
			out = append(out, r)
		}
	}
	return out
}

// age renders a duration coarsely, in Chinese and English.
func age(d time.Duration) (zh, en string) {
	switch {
	case d < time.Minute:
		s := max(0, int(d/time.Second))
		return fmt.Sprintf("%d 秒前", s), fmt.Sprintf("%ds ago", s)
	case d < time.Hour:
		m := int(d / time.Minute)
		return fmt.Sprintf("%d 分钟前", m), fmt.Sprintf("%d min ago", m)
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		return fmt.Sprintf("%d 小时前", h), fmt.Sprintf("%d h ago", h)
	default:
		dd := int(d / (24 * time.Hour))
		return fmt.Sprintf("%d 天前", dd), fmt.Sprintf("%d days ago", dd)
	}
}
