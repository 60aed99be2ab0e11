package evidence

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// TestApplyEvent: how one event changes its contract's index entry.
func TestApplyEvent(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	entry := contractRecord{ID: "C1", Name: "租赁合同", First: at(0), Last: at(2),
		Status: event.KindContractSigned, Events: 2, Subjects: []string{"s1"}}
	full := entry
	full.Subjects = make([]string, maxRecordSubjects)
	for i := range full.Subjects {
		full.Subjects[i] = fmt.Sprint("s", i)
	}
	with := func(f func(*contractRecord)) contractRecord {
		cr := entry
		cr.Subjects = append([]string(nil), entry.Subjects...)
		f(&cr)
		return cr
	}
	for _, tc := range []struct {
		name string
		cr   contractRecord
		c    claim
		want contractRecord
	}{
		{"first event creates the entry", contractRecord{},
			claim{Kind: event.KindContractSent, Time: at(1), ContractID: "C9", Name: "采购合同", Subject: "s1"},
			contractRecord{ID: "C9", Name: "采购合同", First: at(1), Last: at(1), Status: event.KindContractSent, Events: 1, Subjects: []string{"s1"}}},
		{"a report issued first creates it without a status", contractRecord{},
			claim{Kind: event.KindReportIssued, Time: at(1), ContractID: "C9"},
			contractRecord{ID: "C9", First: at(1), Last: at(1)}},
		{"a later event moves Last and Status and counts", entry,
			claim{Kind: event.KindContractCompleted, Time: at(3)},
			with(func(cr *contractRecord) { cr.Last, cr.Status, cr.Events = at(3), event.KindContractCompleted, 3 })},
		{"an event at the same time as Last wins", entry,
			claim{Kind: event.KindContractRejected, Time: at(2)},
			with(func(cr *contractRecord) { cr.Status, cr.Events = event.KindContractRejected, 3 })},
		{"an earlier event moves First only", entry,
			claim{Kind: event.KindContractSent, Time: at(-1)},
			with(func(cr *contractRecord) { cr.First, cr.Events = at(-1), 3 })},
		{"an event between changes only the count", entry,
			claim{Kind: event.KindContractReceived, Time: at(1)},
			with(func(cr *contractRecord) { cr.Events = 3 })},
		{"a report issued is timeline, not lifecycle, and not counted", entry,
			claim{Kind: event.KindReportIssued, Time: at(5)},
			entry},
		{"a report issued before First does not move it", entry,
			claim{Kind: event.KindReportIssued, Time: at(-5)},
			entry},
		{"data.erased is not counted", entry,
			claim{Kind: event.KindDataErased, Time: at(1)},
			entry},
		{"a new name replaces the old", entry,
			claim{Kind: event.KindContractReceived, Time: at(1), Name: "新名称"},
			with(func(cr *contractRecord) { cr.Name, cr.Events = "新名称", 3 })},
		{"no name keeps the old", entry,
			claim{Kind: event.KindContractReceived, Time: at(1)},
			with(func(cr *contractRecord) { cr.Events = 3 })},
		{"a new subject is listed", entry,
			claim{Kind: event.KindContractSigned, Time: at(1), Subject: "s2"},
			with(func(cr *contractRecord) { cr.Subjects, cr.Events = []string{"s1", "s2"}, 3 })},
		{"a known subject is not listed twice", entry,
			claim{Kind: event.KindContractSigned, Time: at(1), Subject: "s1"},
			with(func(cr *contractRecord) { cr.Events = 3 })},
		{"past maxRecordSubjects no subject is listed", full,
			claim{Kind: event.KindContractSigned, Time: at(1), Subject: "new"},
			func() contractRecord { cr := full; cr.Events = 3; return cr }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := applyEvent(tc.cr, &tc.c)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// The entry given is never changed: finalize compares it with the
	// result, and the contract cache holds it.
	subjects := make([]string, 1, 4)
	subjects[0] = "s1"
	given := contractRecord{ID: "C1", First: at(0), Last: at(0), Subjects: subjects}
	applyEvent(given, &claim{Kind: event.KindContractSigned, Time: at(1), Subject: "s2"})
	if spare := subjects[:2][1]; spare != "" {
		t.Errorf("applyEvent wrote %q into the given entry's subjects", spare)
	}
	if !given.Last.Equal(at(0)) || given.Status != "" || given.Events != 0 {
		t.Errorf("applyEvent changed the given entry: %+v", given)
	}
}
