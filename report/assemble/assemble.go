// Package assemble builds the report view model (report.Contract) from the
// evidence store (a contract's records with their sealed fields opened), the
// ledger (leaves, inclusion and consistency proofs, checkpoints with their
// cosignatures and RFC 3161 tokens) and the published keys. It is the
// report.Source the server wires in; report itself knows none of these
// packages. Lookup answers the verifier's ledger questions from the same
// records and proofs.
package assemble

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/event"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/report"
)

// Records is the part of *evidence.Service the assembler uses.
type Records interface {
	// Records returns the contract's records in log order with their sealed
	// fields opened (evidence.Service.Records); evidence.ErrNotFound for
	// another tenant's or an absent contract.
	Records(ctx context.Context, p evidence.Principal, id string, leaf evidence.LeafReader) (*evidence.ContractView, []evidence.Record, error)
	// TenantName names the tenant, the requester reports print.
	TenantName(id string) (string, error)
	// Document returns a stored original document of the tenant;
	// evidence.ErrNotFound when it was never stored.
	Document(p evidence.Principal, sha256Hex string) ([]byte, error)
}

// Ledger is the part of *ledger.Log the assembler uses.
type Ledger interface {
	Leaf(ctx context.Context, index uint64) ([]byte, error)
	InclusionProof(ctx context.Context, index, size uint64) ([]tlog.Hash, error)
	ConsistencyProof(ctx context.Context, old, size uint64) ([]tlog.Hash, error)
	// Checkpoint returns the newest checkpoint with its attachments.
	Checkpoint(ctx context.Context) (ledger.Checkpoint, error)
	// CheckpointAt returns the checkpoint of exactly size with attachments.
	CheckpointAt(ctx context.Context, size uint64) (ledger.Checkpoint, error)
	// Checkpoints lists checkpoints with Size > after in increasing size.
	Checkpoints(ctx context.Context, after uint64, limit int) ([]ledger.Checkpoint, error)
}

var _ Ledger = (*ledger.Log)(nil)
var _ Records = (*evidence.Service)(nil)

// Config configures a Source.
type Config struct {
	Evidence Records
	Ledger   Ledger
	// Keys are the log's verifier keys, the notaries' cosignature/v1 keys
	// and the TSA certificates (DER, issuer last) printed in reports and
	// put in bundles.
	Keys report.Keys
	// MinCosignatures is how many notary cosignatures a checkpoint needs
	// before reports use it. The default is len(Keys.Notary).
	MinCosignatures int
	// MinTimestamps is how many RFC 3161 tokens it needs. The default is 1.
	MinTimestamps int
	// Platform names the signing platform when the events do not.
	Platform string
}

// Source implements report.Source.
type Source struct{ cfg Config }

var _ report.Source = (*Source)(nil)

// ErrNotReady means the contract's newest events are not yet in a
// checkpoint that the notaries have cosigned and a TSA has time-stamped;
// the report can be asked for again in a few seconds.
var ErrNotReady = errors.New("assemble: evidence not yet notarized")

// New returns a Source.
func New(cfg Config) *Source {
	if cfg.MinCosignatures == 0 {
		cfg.MinCosignatures = len(cfg.Keys.Notary)
	}
	if cfg.MinTimestamps == 0 {
		cfg.MinTimestamps = 1
	}
	return &Source{cfg: cfg}
}

// Contract implements report.Source. The view model always carries the
// opened personal values (the report masks them unless revealing); the
// openings of the commitments are included only when reveal is set.
func (s *Source) Contract(ctx context.Context, tenant, id string, reveal bool) (*report.Contract, error) {
	p := evidence.Principal{Tenant: evidence.Tenant{ID: tenant}, Roles: []evidence.Role{evidence.RoleLegal}}
	view, recs, err := s.cfg.Evidence.Records(ctx, p, id, s.cfg.Ledger.Leaf)
	if err != nil {
		if errors.Is(err, evidence.ErrNotFound) || errors.Is(err, evidence.ErrTenantNotFound) {
			return nil, fmt.Errorf("%w: %w", report.ErrNotFound, err)
		}
		return nil, fmt.Errorf("assemble: records: %w", err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: contract has no records", report.ErrNotFound)
	}
	// The report stands on a notarized checkpoint covering every record
	// when there is one, else one covering the contract's facts without
	// its chain of custody: a report must not wait (503) until the
	// report.issued leaf of the previous download is cosigned and
	// time-stamped. Custody entries past the checkpoint are listed by leaf
	// index without a proof.
	var maxAll, maxFacts uint64
	for _, r := range recs {
		maxAll = max(maxAll, r.Index)
		if r.Kind != kindReportIssued {
			maxFacts = max(maxFacts, r.Index)
		}
	}
	cp, err := s.notarized(ctx, maxAll)
	if errors.Is(err, ErrNotReady) && maxFacts < maxAll {
		cp, err = s.notarized(ctx, maxFacts)
	}
	if err != nil {
		return nil, err
	}
	c := build(view, recs, reveal)
	if c.Tenant, err = s.cfg.Evidence.TenantName(tenant); err != nil {
		return nil, fmt.Errorf("assemble: tenant: %w", err)
	}
	if c.Platform == "" {
		c.Platform = s.cfg.Platform
	}
	if err := s.originals(p, c, recs); err != nil {
		return nil, err
	}
	c.Checkpoint = report.Checkpoint(cp)
	c.Keys = s.cfg.Keys
	c.Events = slices.DeleteFunc(c.Events, func(e report.Event) bool {
		return e.Kind == kindReportIssued && e.LeafIndex >= cp.Size
	})
	// An opening is only checkable next to its leaf and inclusion proof:
	// the openings of the custody leaves dropped above go with them, or
	// the bundle would carry an opening of a leaf it does not prove.
	c.Openings = slices.DeleteFunc(c.Openings, func(o report.Opening) bool { return o.LeafIndex >= cp.Size })
	for i := range c.Events {
		e := &c.Events[i]
		if e.Inclusion, err = s.cfg.Ledger.InclusionProof(ctx, e.LeafIndex, cp.Size); err != nil {
			return nil, fmt.Errorf("assemble: inclusion proof of %d in %d: %w", e.LeafIndex, cp.Size, err)
		}
	}
	newest, err := s.cfg.Ledger.Checkpoint(ctx)
	if err == nil && newest.Size > cp.Size && s.good(newest, 0) {
		proof, err := s.cfg.Ledger.ConsistencyProof(ctx, cp.Size, newest.Size)
		if err != nil {
			return nil, fmt.Errorf("assemble: consistency proof %d -> %d: %w", cp.Size, newest.Size, err)
		}
		c.Latest, c.Consistency = report.Checkpoint(newest), proof
	}
	return c, nil
}

// originals adds the stored original documents whose hash a proven leaf
// of the contract records (its completed files, else the signed
// document), each once, with that leaf.
func (s *Source) originals(p evidence.Principal, c *report.Contract, recs []evidence.Record) error {
	seen := map[string]bool{}
	for _, r := range slices.Backward(recs) {
		if r.Kind != event.KindContractCompleted && r.Kind != event.KindContractSigned && r.Kind != event.KindContractSent {
			continue
		}
		d := data(r)
		var hashes []string
		if doc, ok := d["document"].(map[string]any); ok {
			hashes = append(hashes, dstr(doc, "sha256"))
		}
		for _, f := range files(r, d) {
			hashes = append(hashes, f.SHA256)
		}
		for _, h := range hashes {
			if h == "" || seen[h] {
				continue
			}
			seen[h] = true
			b, err := s.cfg.Evidence.Document(p, h)
			if errors.Is(err, evidence.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("assemble: original document %s: %w", h, err)
			}
			name := h
			for _, f := range c.Files {
				if f.SHA256 == h && f.Name != "" {
					name = f.Name
				}
			}
			c.Originals = append(c.Originals, report.Original{Name: name, SHA256: h, Data: b, LeafIndex: r.Index})
		}
	}
	return nil
}

// kindReportIssued is the chain-of-custody event of an issued report.
const kindReportIssued = "report.issued"

// notarized returns the first checkpoint that includes leaf maxIndex and is
// cosigned and time-stamped enough.
func (s *Source) notarized(ctx context.Context, maxIndex uint64) (ledger.Checkpoint, error) {
	list, err := s.cfg.Ledger.Checkpoints(ctx, maxIndex, 64)
	if err != nil {
		return ledger.Checkpoint{}, fmt.Errorf("assemble: checkpoints: %w", err)
	}
	for _, l := range list {
		cp, err := s.cfg.Ledger.CheckpointAt(ctx, l.Size)
		if err != nil {
			return ledger.Checkpoint{}, fmt.Errorf("assemble: checkpoint %d: %w", l.Size, err)
		}
		if s.good(cp, s.cfg.MinTimestamps) {
			return cp, nil
		}
	}
	newest, err := s.cfg.Ledger.Checkpoint(ctx)
	if err != nil {
		return ledger.Checkpoint{}, fmt.Errorf("assemble: newest checkpoint: %w", err)
	}
	if newest.Size > maxIndex && s.good(newest, s.cfg.MinTimestamps) {
		return newest, nil
	}
	return ledger.Checkpoint{}, fmt.Errorf("%w: no checkpoint past leaf %d has %d cosignatures and %d timestamps yet",
		ErrNotReady, maxIndex, s.cfg.MinCosignatures, s.cfg.MinTimestamps)
}

func (s *Source) good(cp ledger.Checkpoint, minTokens int) bool {
	return len(cp.Cosignatures) >= s.cfg.MinCosignatures && len(cp.Timestamps) >= minTokens
}

// build maps evidence records (schema of issue 3) to the view model.
func build(view *evidence.ContractView, recs []evidence.Record, reveal bool) *report.Contract {
	c := &report.Contract{ID: view.ID, Name: view.Name}
	signers := map[string]int{} // account -> index in c.Signers
	intents := map[string]evidence.Record{}
	// contract.signed names the intent verifications it relied on by their
	// public reference (the leaf's "ref", a tenant HMAC of the client id).
	for _, r := range recs {
		if r.Kind == "intent.verified" && r.Public != nil {
			intents[r.Public.Ref] = r
		}
	}
	signer := func(r evidence.Record) *report.Signer {
		// By account, or by erasure when the account was erased: two
		// erased signers are two signers.
		acct := personal(r, "actor.account", report.KindAccount).Key()
		if i, ok := signers[acct]; ok {
			return &c.Signers[i]
		}
		signers[acct] = len(c.Signers)
		c.Signers = append(c.Signers, report.Signer{Party: report.Party{
			Name:       personal(r, "actor.name", report.KindName),
			Account:    personal(r, "actor.account", report.KindAccount),
			Company:    str(r, "actor.company"),
			CreditCode: str(r, "actor.credit_code"),
		}})
		return &c.Signers[len(c.Signers)-1]
	}
	var sentFiles []report.File
	for _, r := range recs {
		var leafHash tlog.Hash
		if b, err := hex.DecodeString(r.LeafHash); err == nil && len(b) == tlog.HashSize {
			copy(leafHash[:], b)
		} else {
			leafHash = tlog.RecordHash(r.Leaf)
		}
		kind := string(r.Kind)
		if evidence.CountsAsEvent(r.Kind) && r.Public != nil && r.Public.Contract != "" {
			c.EventCount++
		}
		c.Events = append(c.Events, report.Event{
			Kind: kind, At: r.Time, Actor: personal(r, "actor.name", report.KindName),
			LeafIndex: r.Index, LeafHash: leafHash, Leaf: r.Leaf,
		})
		if reveal && r.Opened != nil {
			for _, path := range r.Opened.Paths() {
				f := r.Opened.Fields[path]
				c.Openings = append(c.Openings, report.Opening{LeafIndex: r.Index, Pointer: "/commitments/" + escapePointer(path), Salt: f.Salt, Value: f.Value})
			}
		}
		if r.Opened != nil && r.Opened.Erased {
			c.Erased = append(c.Erased, report.ErasedField{Field: fmt.Sprintf("%s #%d", kind, r.Index), ErasedAt: r.Opened.ErasedAt, ErasureLeaf: r.Opened.ErasureIndex})
		}
		d := data(r)
		switch kind {
		case "contract.sent":
			c.SentAt = r.Time
			c.Sender = report.Party{Name: personal(r, "actor.name", report.KindName), Account: personal(r, "actor.account", report.KindAccount)}
			c.SenderIP = personal(r, "actor.ip", report.KindIP)
			c.Company = str(r, "actor.company")
			c.Sender.Company = c.Company
			c.Sender.CreditCode = str(r, "actor.credit_code")
			if v, ok := d["platform"].(string); ok {
				c.Platform = v
			}
			c.SignerCount = int(num(d["signers"]))
			sentFiles = files(r, d)
		case "contract.received":
			sg := signer(r)
			sg.ReceivedAt = r.Time
			sg.ReceiveAccount = personal(r, "actor.account", report.KindAccount)
			sg.ReceivePhone = personal(r, "actor.phone", report.KindPhone)
			sg.ReceiveEmail = personal(r, "actor.email", report.KindEmail)
		case "identity.checked":
			c.IdentityChecks = append(c.IdentityChecks, report.IdentityCheck{
				Subject: personal(r, "actor.name", report.KindName), IDNumber: personal(r, "actor.id_number", report.KindIDNumber),
				Company: str(r, "actor.company"), CreditCode: str(r, "actor.credit_code"),
				Phone: personal(r, "actor.phone", report.KindPhone), Method: dstr(d, "method"), Source: dstr(d, "source"),
				Result: dstr(d, "result"), CA: dstr(d, "ca"), CertSerial: sealedOr(r, d, "cert_serial"), At: r.Time, LeafIndex: r.Index,
				Account: personal(r, "actor.account", report.KindAccount), Details: details(r, d),
			})
		case "intent.verified":
			c.Intents = append(c.Intents, report.IntentVerification{
				Subject: personal(r, "actor.name", report.KindName), Method: dstr(d, "method"), Result: dstr(d, "result"),
				At: r.Time, IP: personal(r, "actor.ip", report.KindIP), LeafIndex: r.Index,
				Account: personal(r, "actor.account", report.KindAccount), Details: details(r, d),
			})
		case "contract.signed":
			sg := signer(r)
			sg.SignedAt, sg.SignedLeafIndex, sg.Signed = r.Time, r.Index, true
			sg.Imported, _ = d["imported"].(bool)
			sg.SignIP = personal(r, "actor.ip", report.KindIP)
			sg.CertSerial = sealedOr(r, d, "cert_serial")
			sg.CertIssuer = dstr(d, "ca")
			if doc, ok := d["document"].(map[string]any); ok {
				sg.SignedFile = dstr(doc, "name")
				if sg.SignedFile == "" {
					sg.SignedFile = dstr(doc, "sha256")
				}
			}
			if seal, ok := d["seal"].(map[string]any); ok {
				sg.SealID, sg.SealSHA256 = dstr(seal, "id"), dstr(seal, "sha256")
			}
			if ps, ok := d["positions"].([]any); ok {
				for _, p := range ps {
					if pm, ok := p.(map[string]any); ok {
						sg.Positions = append(sg.Positions, report.Position{Page: int(num(pm["page"])), X: num(pm["x"]), Y: num(pm["y"])})
					}
				}
			}
			if ids, ok := d["intents"].([]any); ok {
				for _, id := range ids {
					if s, ok := id.(string); ok {
						if iv, ok := intents[s]; ok {
							sg.Methods = append(sg.Methods, report.Method{Name: dstr(data(iv), "method"), Result: dstr(data(iv), "result"), At: iv.Time})
						}
					}
				}
			}
		case "contract.completed":
			c.CompletedAt = r.Time
			c.Files = files(r, d)
		case "contract.rejected", "contract.revoked":
			e := report.Ending{Kind: kind, At: r.Time, Actor: personal(r, "actor.name", report.KindName),
				Account: personal(r, "actor.account", report.KindAccount), Reason: personal(r, "data.reason", report.KindText), LeafIndex: r.Index}
			c.Endings = append(c.Endings, e)
			if kind == "contract.rejected" && field(r, "actor.account").Value != "" {
				signer(r).Rejected = true
			}
		case kindReportIssued:
			c.Custody = append(c.Custody, report.CustodyEntry{
				ReportNumber: dstr(d, "report"), Kind: dstr(d, "document"), Requester: sealedOr(r, d, "requester"),
				Revealed: d["revealed"] == true, At: r.Time, LeafIndex: r.Index,
			})
		}
	}
	if len(c.Files) == 0 && len(sentFiles) > 0 {
		c.Files, c.FilesAsSent = sentFiles, true
	} else {
		for _, f := range sentFiles {
			if !slices.ContainsFunc(c.Files, func(g report.File) bool { return g.SHA256 == f.SHA256 }) {
				c.SentFiles = append(c.SentFiles, f)
			}
		}
	}
	c.Status, c.StatusAt = report.StatusInProgress, view.Last
	switch view.Status {
	case event.KindContractCompleted:
		c.Status = report.StatusCompleted
	case event.KindContractRejected:
		c.Status = report.StatusRejected
	case event.KindContractRevoked:
		c.Status = report.StatusRevoked
	}
	// A signed document named only by its hash takes the file's name.
	for i := range c.Signers {
		for _, f := range c.Files {
			if c.Signers[i].SignedFile == f.SHA256 {
				c.Signers[i].SignedFile = f.Name
			}
		}
		for _, f := range c.SentFiles {
			if c.Signers[i].SignedFile == f.SHA256 {
				c.Signers[i].SignedFile = f.Name + "（发送文件 as sent）"
			}
		}
	}
	return c
}

// detailFields are the facts of identity and intent checks a report
// shows, in order: kind 0 is public data, any other a sealed value of that
// kind (evidence seals these paths).
var detailFields = []struct {
	path string
	kind report.Kind
}{
	{"role", 0}, {"id_type", 0}, {"id_front_sha256", report.KindText}, {"id_back_sha256", report.KindText},
	{"ocr", report.KindText}, {"card_number", report.KindBankCard}, {"reserved_phone", report.KindPhone},
	{"face.digits", report.KindText}, {"face.similarity", 0}, {"face.liveness", 0},
	{"face.video_sha256", report.KindText}, {"face.photo_sha256", report.KindText},
	{"licence_sha256", 0}, {"licence_ocr", report.KindText},
	{"authorization.letter_sha256", 0}, {"authorization.authorized_person", report.KindName},
	{"remittance.account_name", report.KindText}, {"remittance.bank", 0}, {"remittance.branch", 0},
	{"remittance.account_number", report.KindBankCard}, {"remittance.location", 0}, {"remittance.amount", 0},
	{"remittance.result", 0},
}

// details reads the facts of a check that its record holds.
func details(r evidence.Record, d map[string]any) []report.Detail {
	var out []report.Detail
	for _, f := range detailFields {
		if f.kind != 0 {
			if p := personal(r, "data."+f.path, f.kind); p.Value != "" || p.Erased {
				out = append(out, report.Detail{Field: f.path, Value: p})
			}
			continue
		}
		m := d
		key := f.path
		if parent, child, ok := strings.Cut(f.path, "."); ok {
			m, _ = d[parent].(map[string]any)
			key = child
		}
		var v string
		switch x := m[key].(type) {
		case string:
			v = x
		case fmt.Stringer:
			v = x.String()
		case float64:
			v = strconv.FormatFloat(x, 'f', -1, 64)
		}
		if v != "" {
			out = append(out, report.Detail{Field: f.path, Public: v})
		}
	}
	return out
}

// files reads the files of a contract.sent or contract.completed, their
// names opened from the sealed record.
func files(r evidence.Record, d map[string]any) []report.File {
	var out []report.File
	fs, _ := d["files"].([]any)
	for i, f := range fs {
		if fm, ok := f.(map[string]any); ok {
			name := field(r, fmt.Sprintf("data.files[%d].name", i)).Value
			if name == "" {
				name = dstr(fm, "name")
			}
			out = append(out, report.File{Name: name, SHA256: dstr(fm, "sha256"), SM3: dstr(fm, "sm3")})
		}
	}
	return out
}

// field returns an opened sealed field ("actor.name").
func field(r evidence.Record, path string) event.Field {
	if r.Opened == nil {
		return event.Field{}
	}
	return r.Opened.Fields[path]
}

// personal returns an opened field as a Personal, or an erasure notice when
// the subject's key was destroyed.
func personal(r evidence.Record, path string, k report.Kind) report.Personal {
	if r.Opened != nil && r.Opened.Erased {
		if _, committed := commitments(r)[path]; committed {
			p := report.Personal{Kind: k, Erased: true, ErasedAt: r.Opened.ErasedAt}
			if !r.Opened.ErasurePending {
				p.ErasureLeaf = r.Opened.ErasureIndex
			}
			return p
		}
	}
	return report.Personal{Kind: k, Value: field(r, path).Value}
}

func commitments(r evidence.Record) map[string]string {
	if r.Public == nil {
		return nil
	}
	return r.Public.Commitments
}

// str returns an opened non-personal sealed field (a company name).
func str(r evidence.Record, path string) string { return field(r, path).Value }

// sealedOr returns data field k, sealed ("data.k") or public, or the
// erasure notice when it was sealed with a subject since erased.
func sealedOr(r evidence.Record, d map[string]any, k string) string {
	if v := field(r, "data."+k).Value; v != "" {
		return v
	}
	if p := personal(r, "data."+k, report.KindText); p.Erased {
		return p.Show(true)
	}
	return dstr(d, k)
}

func data(r evidence.Record) map[string]any {
	if r.Public == nil {
		return nil
	}
	return r.Public.Data
}

func dstr(d map[string]any, k string) string {
	switch v := d[k].(type) {
	case string:
		return v
	case fmt.Stringer:
		return v.String()
	}
	return ""
}

// num reads a JSON number decoded with UseNumber or as float64.
func num(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case interface{ Float64() (float64, error) }:
		f, _ := n.Float64()
		return f
	}
	return 0
}

// escapePointer escapes a member name for an RFC 6901 pointer.
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// Custody data fields of a report.issued event, as the assembler reads
// them back: {"report": number, "document": kind, "requester": label,
// "revealed": bool, "sha256": hex of the served bytes}. The requester is
// sealed ("data.requester"), the others are public.
func CustodyData(is report.Issuance) map[string]any {
	return map[string]any{"report": is.ReportNumber, "document": is.Kind, "requester": is.Requester,
		"revealed": is.Revealed, "sha256": is.SHA256}
}
