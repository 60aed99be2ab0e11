package assemble_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/evidencetest"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/assemble"
	"github.com/cunzheng/cunzheng/report/reporttest"
	"github.com/cunzheng/cunzheng/verify"
)

// testLedger serves the evidence test log's leaves with real Merkle proofs
// (transparency-dev/merkle) and checkpoints signed, cosigned and
// time-stamped with the demo keys of reporttest.
type testLedger struct {
	mu   sync.Mutex
	log  *evidencetest.Log
	keys *reporttest.Fixture
	cps  map[uint64]ledger.Checkpoint
	// cosign controls whether new checkpoints get cosignatures and tokens.
	cosign bool
	// now is the checkpoints' and tokens' clock; nil is time.Now.
	now func() time.Time
}

func (l *testLedger) tree() *testonly.Tree {
	t := testonly.New(rfc6962.DefaultHasher)
	t.AppendData(l.log.Leaves()...)
	return t
}

func (l *testLedger) Leaf(_ context.Context, i uint64) ([]byte, error) {
	leaves := l.log.Leaves()
	if i >= uint64(len(leaves)) {
		return nil, ledger.ErrNotFound
	}
	return leaves[i], nil
}

func toHashes(p [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(p))
	for i := range p {
		copy(out[i][:], p[i])
	}
	return out
}

func (l *testLedger) InclusionProof(_ context.Context, i, size uint64) ([]tlog.Hash, error) {
	p, err := l.tree().InclusionProof(i, size)
	return toHashes(p), err
}

func (l *testLedger) ConsistencyProof(_ context.Context, old, size uint64) ([]tlog.Hash, error) {
	p, err := l.tree().ConsistencyProof(old, size)
	return toHashes(p), err
}

// publish signs a checkpoint of the whole log now.
func (l *testLedger) publish(t *testing.T) ledger.Checkpoint {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	tr := l.tree()
	size := tr.Size()
	var root tlog.Hash
	copy(root[:], tr.Hash())
	body := fmt.Sprintf("%s\n%d\n%s\n", reporttest.Origin, size, root.String())
	signed, err := note.Sign(&note.Note{Text: body}, l.keys.LogSigner)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now
	if l.now != nil {
		now = l.now
	}
	cp := ledger.Checkpoint{Size: size, Root: root, Time: now(), Note: signed}
	if l.cosign {
		for _, n := range l.keys.Notaries {
			line, err := reporttest.Cosign(signed, n.Signer)
			if err != nil {
				t.Fatal(err)
			}
			cp.Cosignatures = append(cp.Cosignatures, line)
		}
		tok, err := l.keys.TSA.Token(signed, now())
		if err != nil {
			t.Fatal(err)
		}
		cp.Timestamps = [][]byte{tok}
	}
	l.cps[size] = cp
	return cp
}

func (l *testLedger) Checkpoint(context.Context) (ledger.Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best ledger.Checkpoint
	for _, cp := range l.cps {
		if cp.Size > best.Size {
			best = cp
		}
	}
	return best, nil
}

func (l *testLedger) CheckpointAt(_ context.Context, size uint64) (ledger.Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cp, ok := l.cps[size]
	if !ok {
		return ledger.Checkpoint{}, ledger.ErrNotFound
	}
	return cp, nil
}

func (l *testLedger) Checkpoints(_ context.Context, after uint64, limit int) ([]ledger.Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ledger.Checkpoint
	for size := after + 1; size <= uint64(len(l.log.Leaves())) && len(out) < limit; size++ {
		if cp, ok := l.cps[size]; ok {
			out = append(out, ledger.Checkpoint{Size: cp.Size, Root: cp.Root, Time: cp.Time, Note: cp.Note})
		}
	}
	return out, nil
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install poppler-utils", name)
	}
	return p
}

// newDemoSource loads the evidence package's demo contract into a real
// evidence service over an in-memory log and returns the pieces with the
// ledger view (cosigning its checkpoints when cosign is set) and the
// source assembled from them. The service closes with t.
func newDemoSource(t *testing.T, cosign bool) (*reporttest.Fixture, *evidence.Service, *evidencetest.Log, *evidence.Demo, *testLedger, *assemble.Source) {
	t.Helper()
	ctx := context.Background()
	keys, err := reporttest.Build(reporttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	master, err := evidence.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	log := evidencetest.NewLog()
	ev, err := evidence.Open(ctx, evidence.Config{Dir: t.TempDir(), Master: master, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Close() })
	demo, err := ev.LoadDemo(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	led := &testLedger{log: log, keys: keys, cps: map[uint64]ledger.Checkpoint{}, cosign: cosign}
	rk := report.Keys{Log: []string{keys.LogVKey}, TSACert: [][]byte{keys.TSA.Cert.Raw, keys.TSACA.Cert.Raw}}
	for _, n := range keys.Notaries {
		rk.Notary = append(rk.Notary, n.VKey)
	}
	return keys, ev, log, demo, led, assemble.New(assemble.Config{Evidence: ev, Ledger: led, Keys: rk})
}

// TestEndToEnd ingests the evidence package's demo contract (real event
// model, commitments and sealed records), assembles it, issues every
// document and verifies the bundle offline against the pinned keys.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	keys, _, log, demo, led, src := newDemoSource(t, false)

	// Not yet cosigned: not ready.
	led.publish(t)
	if _, err := src.Contract(ctx, demo.Tenant.ID, demo.ContractID, false); !errors.Is(err, assemble.ErrNotReady) {
		t.Fatalf("uncosigned: err = %v, want ErrNotReady", err)
	}
	led.cosign = true
	cp := led.publish(t)

	if _, err := src.Contract(ctx, "t_someone_else", demo.ContractID, false); !errors.Is(err, report.ErrNotFound) {
		t.Errorf("other tenant: err = %v, want report.ErrNotFound", err)
	}
	c, err := src.Contract(ctx, demo.Tenant.ID, demo.ContractID, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Checkpoint.Size != cp.Size || len(c.Events) < 6 || len(c.Signers) == 0 || len(c.Openings) == 0 || len(c.Files) != 1 {
		t.Fatalf("assembled: checkpoint %d events %d signers %d openings %d files %d", c.Checkpoint.Size, len(c.Events), len(c.Signers), len(c.Openings), len(c.Files))
	}
	// The signer signed the contract as sent; the completion names the
	// platform's signed PDF: both hashes are on the page, and the
	// signer's names the file it is.
	const sent = "5e1f0d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100"
	if len(c.SentFiles) != 1 || c.SentFiles[0].SHA256 != sent || c.Files[0].SHA256 == sent {
		t.Errorf("files %+v, as sent %+v", c.Files, c.SentFiles)
	}
	if got := c.Signers[0].SignedFile; got != "劳动合同（发送文件 as sent）" {
		t.Errorf("the signer signed %q", got)
	}

	// The log grows and a newer cosigned checkpoint appears: consistency.
	if _, err := log.AppendAll(ctx, [][]byte{[]byte(`{"other":1}`), []byte(`{"other":2}`)}); err != nil {
		t.Fatal(err)
	}
	led.publish(t)
	c, err = src.Contract(ctx, demo.Tenant.ID, demo.ContractID, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Latest.Size <= c.Checkpoint.Size || len(c.Consistency) == 0 {
		t.Errorf("no consistency proof: checkpoint %d latest %d", c.Checkpoint.Size, c.Latest.Size)
	}

	svc, err := report.New(report.Config{KeyDir: t.TempDir(), Source: src, Custody: custody{}})
	if err != nil {
		t.Fatal(err)
	}
	z, is, err := svc.Issue(ctx, report.KindBundle, demo.Tenant.ID, "legal-1", demo.ContractID, true)
	if err != nil {
		t.Fatal(err)
	}
	opts := verify.BundleOptions{}
	v, err := tlogfmt.NewVerifier(keys.LogVKey)
	if err != nil {
		t.Fatal(err)
	}
	opts.LogKeys = []note.Verifier{v}
	for _, n := range keys.Notaries {
		v, err := tlogfmt.NewVerifier(n.VKey)
		if err != nil {
			t.Fatal(err)
		}
		opts.NotaryKeys = append(opts.NotaryKeys, v)
	}
	res, err := verify.Bundle(z, opts)
	if err != nil {
		t.Fatalf("bundle of the evidence demo: %v", err)
	}
	if len(res.Manifest.Openings) == 0 || res.Manifest.ReportNumber != is.ReportNumber {
		t.Errorf("manifest: %d openings, report %q", len(res.Manifest.Openings), res.Manifest.ReportNumber)
	}
	// The leaves commit to the tenant instead of naming it; the revealed
	// bundle opens those commitments and the checker finds one tenant.
	tenantStep := ""
	for _, s := range res.Steps {
		if s.Name == "tenant of the events" {
			tenantStep = s.Detail
		}
	}
	if want := "all of tenant " + demo.Tenant.ID + ": 0 leaves name it"; !strings.HasPrefix(tenantStep, want) || strings.Contains(tenantStep, ", 0 open") {
		t.Errorf("tenant step %q, want %q… with openings", tenantStep, want)
	}

	// The certificate page shows the seed's facts, masked.
	pdf, _, err := svc.Issue(ctx, report.KindCertificate, demo.Tenant.ID, "legal-1", demo.ContractID, false)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "c.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(needTool(t, "pdftotext"), "-layout", in, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{"劳动合同", "2125270852621565954", "叶*华", "185****5544", "112.17.*.*", "第2页", "0.73", "短信验证码校验", "伟伟集团", "548f6d36e1bf4c578fde8327c38f6fb1"} {
		if !strings.Contains(text, want) {
			t.Errorf("certificate lacks %q", want)
		}
	}
	for _, pii := range []string{"叶建华", "18501775544", "112.17.116.54"} {
		if strings.Contains(text, pii) {
			t.Errorf("masked certificate shows %q", pii)
		}
	}
}

type custody struct{}

func (custody) Issued(context.Context, report.Issuance) (uint64, error) { return 0, nil }
