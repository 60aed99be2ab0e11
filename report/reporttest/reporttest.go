// Package reporttest builds the demo contract of the report tests, golden files
// and benchmarks: the seed's 劳动合同 between 伟伟集团 and 叶建华, with real
// evidence behind it — JSON leaves with SHA-256(salt || value) commitments,
// an RFC 6962 tree (transparency-dev/merkle), a checkpoint signed as a
// C2SP signed note (sumdb/note, Ed25519), cosignatures by two notary
// offices in cosignature/v1 form (checked by transparency-dev/formats'
// verifier) and RFC 3161 tokens from an in-process TSA.
//
// Everything but the TSA's ECDSA signatures and serial numbers is derived
// from a seed, so the report text is the same on every run (golden tests).
package reporttest

import (
	"bytes"
	"crypto/ed25519"
	rand2 "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	tnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/internal/testpki"
)

// Origin is the demo log's origin line.
const Origin = "cunzheng.example/log"

// Options shape the demo contract.
type Options struct {
	// Signers beyond the default two (叶建华 and the enterprise signer).
	ExtraSigners int
	// MinEvents pads the timeline with contract.received events of copied
	// recipients until it has at least this many events.
	MinEvents int
	// Reveal adds the openings of the commitments (as for ?reveal=true).
	Reveal bool
	// Seed varies the keys (log, notaries) and salts; the default 0 is the
	// golden demo.
	Seed byte
	// SM2 adds the log's SM2/SM3 signature line (ledger.SM2Signer) to every
	// checkpoint, as the real log signs. SM2 signatures are randomised, so
	// golden tests leave it off.
	SM2 bool
	// Erase marks 叶建华's ID number as crypto-shredded by a data.erased
	// event logged after the contract.
	Erase bool
}

// Fixture is a demo contract with the secrets that made it, for tests that
// need to forge or re-sign.
type Fixture struct {
	Contract  *report.Contract
	LogSigner note.Signer
	LogVKey   string
	SM2Signer note.Signer // nil unless Options.SM2
	SM2VKey   string
	Notaries  []Notary
	TSA       *testpki.TSA
	TSACA     *testpki.CA
	Tree      *testonly.Tree
}

// Notary is one demo notary office.
type Notary struct {
	Name   string
	VKey   string // cosignature/v1 verifier key
	Signer note.Signer
}

var cst = time.FixedZone("CST", 8*3600)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, cst)
	if err != nil {
		panic(err) // constant input
	}
	return t
}

// person is a demo party with its personal values.
type person struct {
	name, account, id, phone, email, ip string
}

// Build makes the demo contract.
func Build(opts Options) (*Fixture, error) {
	rng := rand.New(rand.NewChaCha8([32]byte{'c', 'u', 'n', 'z', 'h', 'e', 'n', 'g', 31: opts.Seed}))
	seedReader := readerFunc(func(p []byte) (int, error) {
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		return len(p), nil
	})
	skey, vkey, err := note.GenerateKey(seedReader, Origin)
	if err != nil {
		return nil, err
	}
	logSigner, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	f := &Fixture{LogSigner: logSigner, LogVKey: vkey, Tree: testonly.New(rfc6962.DefaultHasher)}
	if opts.SM2 {
		priv, err := sm2.GenerateKey(rand2.Reader)
		if err != nil {
			return nil, err
		}
		s, err := ledger.NewSM2Signer(Origin, priv)
		if err != nil {
			return nil, err
		}
		f.SM2Signer, f.SM2VKey = s, s.VerifierKey()
	}
	for i, name := range []string{"notary-hangzhou.example", "notary-shanghai.example"} {
		n, err := newNotary(seedReader, name, at("2018-11-14 17:25:00").Add(time.Duration(i)*7*time.Second))
		if err != nil {
			return nil, err
		}
		f.Notaries = append(f.Notaries, n)
	}
	f.TSA, f.TSACA, err = testpki.DemoTSA()
	if err != nil {
		return nil, err
	}

	ye := person{"叶建华", "18501775544", "330101199001010000", "18501775544", "yejianhua@example.com", "112.17.116.54"}
	dai := person{"戴文潘", "weimei_pan@example.com", "330106198505050011", "13800138000", "weimei_pan@example.com", "60.12.241.194"}
	signers := []person{ye, dai}
	for i := range opts.ExtraSigners {
		signers = append(signers, person{
			fmt.Sprintf("签署人%d", i+3), fmt.Sprintf("1390000%04d", i), fmt.Sprintf("33010119800101%04d", i),
			fmt.Sprintf("1390000%04d", i), fmt.Sprintf("signer%d@example.com", i+3), fmt.Sprintf("101.68.%d.%d", i, i+10),
		})
	}
	doc := []byte("劳动合同 — demo document of the cunzheng report tests\n")
	docSHA := sha256.Sum256(doc)
	docSM3 := sm3.Sum(doc)

	c := &report.Contract{
		ID:          "2125270852621565954",
		Name:        "劳动合同",
		Platform:    "演示签约平台 Demo e-sign platform",
		Company:     "伟伟集团",
		Sender:      report.Party{Name: pname(dai.name), Account: report.Personal{Kind: report.KindAccount, Value: dai.account}, Company: "伟伟集团"},
		SenderIP:    report.Personal{Kind: report.KindIP, Value: dai.ip},
		SentAt:      at("2018-11-14 17:16:43"),
		CompletedAt: at("2018-11-14 17:22:36"),
		Files:       []report.File{{Name: "劳动合同.pdf", SHA256: hex.EncodeToString(docSHA[:]), SM3: hex.EncodeToString(docSM3[:])}},
	}

	// Leaves from other tenants come before and after, as in a real log.
	var leaves [][]byte
	filler := func(n int) {
		for range n {
			leaves = append(leaves, fmt.Appendf(nil, `{"kind":"contract.signed","tenant":"t_other","n":%d}`, len(leaves)))
		}
	}
	type pending struct {
		kind  string
		t     time.Time
		actor report.Personal
		sum   string
		leaf  uint64
	}
	var evs []pending
	var openings []report.Opening
	commit := func(value string) (string, []byte) {
		salt := make([]byte, 32)
		_, _ = seedReader.Read(salt)
		h := sha256.Sum256(append(append([]byte(nil), salt...), value...))
		return hex.EncodeToString(h[:]), salt
	}
	add := func(kind string, t time.Time, p person, extra map[string]any, summary string) uint64 {
		idx := uint64(len(leaves))
		actor := map[string]any{}
		for _, fv := range []struct{ field, v string }{{"name", p.name}, {"phone", p.phone}, {"ip", p.ip}} {
			com, salt := commit(fv.v)
			actor[fv.field] = com
			openings = append(openings, report.Opening{LeafIndex: idx, Pointer: "/actor/" + fv.field, Salt: salt, Value: fv.v})
		}
		rec := map[string]any{"v": 1, "kind": kind, "tenant": "t_7f3a9c", "time": t.Format(time.RFC3339),
			"contract": "hmac:9b1c6e0f4d2a", "actor": actor}
		for k, v := range extra {
			rec[k] = v
		}
		leaf, err := json.Marshal(rec)
		if err != nil {
			panic(err) // maps of strings
		}
		leaves = append(leaves, leaf)
		evs = append(evs, pending{kind, t, pname(p.name), summary, idx})
		return idx
	}
	filler(23)
	docHashes := map[string]any{"document_sha256": c.Files[0].SHA256, "document_sm3": c.Files[0].SM3}
	add("contract.sent", c.SentAt, dai, docHashes, "")
	for i, s := range signers {
		off := time.Duration(i) * 2 * time.Second
		recv := c.SentAt.Add(off)
		add("contract.received", recv, s, nil, "")
		idTime := at("2018-11-14 17:20:10").Add(off)
		idLeaf := add("identity.checked", idTime, s, map[string]any{"method": "phone3", "result": "pass"}, "")
		c.IdentityChecks = append(c.IdentityChecks, report.IdentityCheck{
			Subject: pname(s.name), IDNumber: report.Personal{Kind: report.KindIDNumber, Value: s.id},
			Phone: report.Personal{Kind: report.KindPhone, Value: s.phone}, Method: "phone3",
			Source: "运营商三要素核验 Carrier 3-factor check", Result: "pass", CA: "CFCA",
			CertSerial: fmt.Sprintf("548f6d36e1bf4c578fde8327c38f6f%02x", i), At: idTime, LeafIndex: idLeaf,
		})
		intentTime := at("2018-11-14 17:22:35").Add(off)
		intentLeaf := add("intent.verified", intentTime, s, map[string]any{"method": "sms_code", "result": "pass"}, "")
		c.Intents = append(c.Intents, report.IntentVerification{
			Subject: pname(s.name), Method: "sms_code", Result: "pass", At: intentTime,
			IP: report.Personal{Kind: report.KindIP, Value: s.ip}, LeafIndex: intentLeaf,
		})
		signTime := at("2018-11-14 17:22:36").Add(off)
		signLeaf := add("contract.signed", signTime, s, docHashes, "")
		c.Signers = append(c.Signers, report.Signer{
			Party:           report.Party{Name: pname(s.name), Account: report.Personal{Kind: report.KindAccount, Value: s.account}},
			ReceivedAt:      recv,
			ReceiveAccount:  report.Personal{Kind: report.KindAccount, Value: s.account},
			ReceivePhone:    report.Personal{Kind: report.KindPhone, Value: s.phone},
			ReceiveEmail:    report.Personal{Kind: report.KindEmail, Value: s.email},
			SignedAt:        signTime,
			SignIP:          report.Personal{Kind: report.KindIP, Value: s.ip},
			Methods:         []report.Method{{Name: "sms_code", At: intentTime}},
			CertSerial:      fmt.Sprintf("548f6d36e1bf4c578fde8327c38f6f%02x", i),
			CertIssuer:      "CFCA",
			SignedFile:      "劳动合同.pdf",
			Positions:       []report.Position{{Page: 2, X: 0.60, Y: 0.63 + 0.07*float64(i)}},
			SignedLeafIndex: signLeaf,
			Signed:          true,
		})
	}
	for len(evs)+1 < opts.MinEvents {
		add("contract.received", c.SentAt.Add(time.Minute), person{"抄送人", "cc@example.com", "", "13700000000", "cc@example.com", "10.0.0.1"}, nil, "")
	}
	add("contract.completed", c.CompletedAt, dai, docHashes, "")
	filler(9)
	c.Events = nil
	for _, e := range evs {
		c.Events = append(c.Events, report.Event{Kind: e.kind, At: e.t, Actor: e.actor, LeafIndex: e.leaf})
		if e.kind != "identity.checked" { // a person's, not the contract's
			c.EventCount++
		}
	}
	c.SignerCount = len(signers)
	c.Status, c.StatusAt = report.StatusCompleted, c.CompletedAt
	c.Tenant = "伟伟集团"
	c.Sender.CreditCode = "91330106MA2B2C3D4E"
	c.Custody = []report.CustodyEntry{{ReportNumber: "CZ-20181115-000001", Kind: "certificate", Requester: "t_7f3a9c/legal-1", At: at("2018-11-15 09:30:00"), LeafIndex: uint64(len(leaves))}}
	leaves = append(leaves, []byte(`{"kind":"report.issued","tenant":"t_7f3a9c","report":"CZ-20181115-000001","revealed":false}`))
	if opts.Erase {
		idx := uint64(len(leaves))
		erasedAt := at("2018-11-15 08:00:00")
		leaves = append(leaves, []byte(`{"kind":"data.erased","tenant":"t_7f3a9c","subject":"hmac:5e1f"}`))
		c.IdentityChecks[0].IDNumber = report.Personal{Kind: report.KindIDNumber, Erased: true, ErasedAt: erasedAt, ErasureLeaf: idx}
		c.Erased = append(c.Erased, report.ErasedField{Field: "签署方1 证件号码 Signer 1 ID number", ErasedAt: erasedAt, ErasureLeaf: idx})
	}
	filler(3)

	f.Tree.AppendData(leaves...)
	cpSize := f.Tree.Size()
	c.Checkpoint, err = f.checkpoint(cpSize, at("2018-11-15 09:31:00"))
	if err != nil {
		return nil, err
	}
	for i := range c.Events {
		e := &c.Events[i]
		e.Leaf = leaves[e.LeafIndex]
		e.LeafHash = tlog.RecordHash(e.Leaf)
		proof, err := f.Tree.InclusionProof(e.LeafIndex, cpSize)
		if err != nil {
			return nil, err
		}
		e.Inclusion = hashes(proof)
	}
	// The log grew after the checkpoint the proofs use.
	filler(17)
	f.Tree.AppendData(leaves[cpSize:]...)
	c.Latest, err = f.checkpoint(f.Tree.Size(), at("2018-11-16 10:00:00"))
	if err != nil {
		return nil, err
	}
	cons, err := f.Tree.ConsistencyProof(cpSize, f.Tree.Size())
	if err != nil {
		return nil, err
	}
	c.Consistency = hashes(cons)
	c.Keys = report.Keys{Log: []string{vkey}, TSACert: [][]byte{f.TSA.Cert.Raw, f.TSACA.Cert.Raw}}
	if f.SM2VKey != "" {
		c.Keys.Log = append(c.Keys.Log, f.SM2VKey)
	}
	for _, n := range f.Notaries {
		c.Keys.Notary = append(c.Keys.Notary, n.VKey)
	}
	if opts.Reveal {
		c.Openings = openings
	}
	f.Contract = c
	return f, nil
}

// checkpoint signs a checkpoint of the tree at size, cosigns it by every
// notary and time-stamps its note.
func (f *Fixture) checkpoint(size uint64, t time.Time) (report.Checkpoint, error) {
	var root tlog.Hash
	copy(root[:], f.Tree.HashAt(size))
	body := fmt.Sprintf("%s\n%d\n%s\n", Origin, size, b64(root[:]))
	signers := []note.Signer{f.LogSigner}
	if f.SM2Signer != nil {
		signers = append(signers, f.SM2Signer)
	}
	signed, err := note.Sign(&note.Note{Text: body}, signers...)
	if err != nil {
		return report.Checkpoint{}, err
	}
	cp := report.Checkpoint{Size: size, Root: root, Time: t, Note: signed}
	for _, n := range f.Notaries {
		line, err := Cosign(signed, n.Signer)
		if err != nil {
			return report.Checkpoint{}, err
		}
		cp.Cosignatures = append(cp.Cosignatures, line)
	}
	tok, err := f.TSA.Token(signed, t.Add(2*time.Second))
	if err != nil {
		return report.Checkpoint{}, err
	}
	cp.Timestamps = [][]byte{tok}
	return cp, nil
}

// Cosign returns the signature line a cosigner adds to a signed note.
func Cosign(signed []byte, s note.Signer) ([]byte, error) {
	n, err := note.Open(signed, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	switch {
	case err == nil:
	case asUnverified(err, &unverified):
		n = unverified.Note
	default:
		return nil, err
	}
	out, err := note.Sign(&note.Note{Text: n.Text}, s)
	if err != nil {
		return nil, err
	}
	_, sig, _ := cut(out)
	return sig, nil
}

// cosigner is a cosignature/v1 signer with a fixed clock, so that demo
// cosignature times are reproducible. Its signatures verify with
// transparency-dev/formats' NewVerifierForCosignatureV1 (the tests check).
type cosigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	at   time.Time
}

func (c *cosigner) Name() string    { return c.name }
func (c *cosigner) KeyHash() uint32 { return c.hash }
func (c *cosigner) Sign(msg []byte) ([]byte, error) {
	t := uint64(c.at.Unix())
	m := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, msg)
	sig := binary.BigEndian.AppendUint64(nil, t)
	return append(sig, ed25519.Sign(c.key, m)...), nil
}

func newNotary(r readerFunc, name string, t time.Time) (Notary, error) {
	pub, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return Notary{}, err
	}
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return Notary{}, err
	}
	cvkey, err := tnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		return Notary{}, err
	}
	v, err := tnote.NewVerifierForCosignatureV1(cvkey)
	if err != nil {
		return Notary{}, err
	}
	return Notary{Name: name, VKey: cvkey, Signer: &cosigner{name: name, hash: v.KeyHash(), key: priv, at: t}}, nil
}

func pname(v string) report.Personal { return report.Personal{Kind: report.KindName, Value: v} }

func hashes(p [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(p))
	for i, h := range p {
		copy(out[i][:], h)
	}
	return out
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// cut splits a signed note into its text and its signature block.
func cut(signed []byte) (text, sigs []byte, ok bool) {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return nil, nil, false
	}
	return signed[:i+1], signed[i+2:], true
}

func asUnverified(err error, target **note.UnverifiedNoteError) bool { return errors.As(err, target) }

// Bundle makes the demo contract and the evidence bundle a report service
// with its keys in keyDir issues for it (number CZ-1, asked by t/legal,
// revealed as opts says), for the tests of the commands that check bundles.
func Bundle(opts Options, keyDir string) (*Fixture, []byte, error) {
	f, err := Build(opts)
	if err != nil {
		return nil, nil, err
	}
	s, err := report.New(report.Config{KeyDir: keyDir})
	if err != nil {
		return nil, nil, err
	}
	z, err := s.Bundle(f.Contract, report.Request{ReportNumber: "CZ-1", Requester: "t/legal", Reveal: opts.Reveal, IssuedAt: time.Unix(1542300000, 0)})
	if err != nil {
		return nil, nil, err
	}
	return f, z, nil
}
