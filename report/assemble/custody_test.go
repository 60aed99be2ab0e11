package assemble_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/assemble"
)

type memAppender struct {
	leaves [][]byte
	err    error
}

func (m *memAppender) Append(_ context.Context, leaf []byte) (ledger.Receipt, error) {
	if m.err != nil {
		return ledger.Receipt{}, m.err
	}
	m.leaves = append(m.leaves, leaf)
	return ledger.Receipt{Index: uint64(len(m.leaves) - 1)}, nil
}

func TestLedgerCustody(t *testing.T) {
	m := &memAppender{leaves: make([][]byte, 7)}
	is := report.Issuance{Tenant: "t_7f3a9c", Requester: "t_7f3a9c/legal", Contract: "2125270852621565954", ReportNumber: "CZ-20181116-0000a1b2",
		Kind: report.KindEvidence, Revealed: true, At: time.Date(2018, 11, 16, 2, 0, 0, 0, time.UTC), SHA256: strings.Repeat("ab", 32)}
	idx, err := assemble.LedgerCustody{Log: m}.Issued(context.Background(), is)
	if err != nil || idx != 7 {
		t.Fatalf("Issued = %d, %v", idx, err)
	}
	leaf := m.leaves[7]
	want := `{"data":{"document":"evidence-report","report":"CZ-20181116-0000a1b2","requester":"t_7f3a9c/legal","revealed":true,"sha256":"` + is.SHA256 + `"},"kind":"report.issued","tenant":"t_7f3a9c","time":"2018-11-16T02:00:00Z","v":1}`
	if string(leaf) != want {
		t.Errorf("leaf\n got %s\nwant %s", leaf, want)
	}
	if strings.Contains(string(leaf), is.Contract) {
		t.Error("the public leaf names the contract")
	}
	var v map[string]any
	if err := json.Unmarshal(leaf, &v); err != nil {
		t.Fatal(err)
	}
	m.err = ledger.ErrPushback
	if _, err := (assemble.LedgerCustody{Log: m}).Issued(context.Background(), is); !errors.Is(err, ledger.ErrPushback) {
		t.Errorf("append failure: err = %v", err)
	}
}
