package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// ErrEvidence means the evidence handed to the report does not hold
// together (a proof that does not verify, a note that does not parse): the
// report refuses to print it rather than issue a document that a reader
// would later find broken.
var ErrEvidence = errors.New("report: evidence does not verify")

// noteInfo is what a report prints about a checkpoint, parsed from its note.
type noteInfo struct {
	tlogfmt.Checkpoint           // the body: origin, size, root
	Sigs               []sigLine // the log's own signature lines
	Cosigs             []sigLine // the notaries' cosignature lines
}

// sigLine is one signature line of a note.
type sigLine struct {
	Name    string
	KeyHash uint32
	Time    time.Time // cosignature/v1 timestamp, zero for plain signatures
}

// parseCheckpoint parses c's note (and cosignature lines) without verifying
// signatures, and checks that its body names c.Size and c.Root.
func parseCheckpoint(c Checkpoint) (noteInfo, error) {
	var ni noteInfo
	text, sigs, err := tlogfmt.SplitNote(c.Note)
	if err != nil {
		return ni, fmt.Errorf("%w: checkpoint note: %w", ErrEvidence, err)
	}
	ni.Checkpoint, err = tlogfmt.ParseCheckpoint(text)
	if err != nil {
		return ni, fmt.Errorf("%w: %w", ErrEvidence, err)
	}
	if ni.Size != c.Size || ni.Root != c.Root {
		return ni, fmt.Errorf("%w: checkpoint note says size %d root %s, ledger says size %d root %s",
			ErrEvidence, ni.Size, ni.Root, c.Size, c.Root)
	}
	for _, s := range sigs {
		ni.Sigs = append(ni.Sigs, sigLine{Name: s.Name, KeyHash: s.Hash})
	}
	for _, l := range c.Cosignatures {
		s, err := tlogfmt.ParseSignatureLine(tlogfmt.AppendSignatures(nil, l))
		if err != nil {
			return ni, fmt.Errorf("%w: cosignature: %w", ErrEvidence, err)
		}
		// Cosignature lines are notaries' cosignature/v1 signatures, the
		// only kind whose timestamp means anything.
		t, _ := tlogfmt.CosignatureTime(s)
		ni.Cosigs = append(ni.Cosigs, sigLine{Name: s.Name, KeyHash: s.Hash, Time: t})
	}
	return ni, nil
}

// tokenInfo is what a report prints about an RFC 3161 token.
type tokenInfo struct {
	TSA        string
	GenTime    time.Time
	Serial     string
	Policy     string
	Hash       string // digest algorithm
	Imprint    string // hex
	ImprintsOK bool   // the imprint is the SHA-256 of the checkpoint note
}

// parseToken parses an RFC 3161 token over note (signature checked by
// timestamp.Parse against the certificate inside the token).
func parseToken(tok, noteBytes []byte) (tokenInfo, error) {
	ts, err := timestamp.Parse(tok)
	if err != nil {
		return tokenInfo{}, fmt.Errorf("%w: RFC 3161 token: %w", ErrEvidence, err)
	}
	ti := tokenInfo{
		GenTime: ts.Time,
		Policy:  ts.Policy.String(),
		Hash:    ts.HashAlgorithm.String(),
		Imprint: hex.EncodeToString(ts.HashedMessage),
	}
	if ts.SerialNumber != nil {
		ti.Serial = ts.SerialNumber.Text(16)
	}
	if len(ts.Certificates) > 0 {
		ti.TSA = ts.Certificates[0].Subject.String()
	}
	sum := sha256.Sum256(noteBytes)
	ti.ImprintsOK = bytes.Equal(ts.HashedMessage, sum[:])
	return ti, nil
}

// checkProofs verifies every inclusion proof of c against c.Checkpoint and
// the consistency proof to c.Latest, so that a report never prints a proof
// that does not verify.
func checkProofs(c *Contract) error {
	if c.Checkpoint.Size == 0 {
		return fmt.Errorf("%w: no checkpoint", ErrEvidence)
	}
	for _, e := range c.Events {
		if len(e.Leaf) > 0 && tlogfmt.LeafHash(e.Leaf) != e.LeafHash {
			return fmt.Errorf("%w: leaf %d: bytes do not hash to the leaf hash", ErrEvidence, e.LeafIndex)
		}
		if err := tlogfmt.CheckInclusion(e.Inclusion, e.LeafIndex, c.Checkpoint.Size, e.LeafHash, c.Checkpoint.Root); err != nil {
			return fmt.Errorf("%w: leaf %d: inclusion proof against checkpoint %d: %w", ErrEvidence, e.LeafIndex, c.Checkpoint.Size, err)
		}
	}
	proven := make(map[uint64]bool, len(c.Events))
	for _, e := range c.Events {
		proven[e.LeafIndex] = true
	}
	for _, o := range c.Openings {
		if !proven[o.LeafIndex] {
			return fmt.Errorf("%w: opening of leaf %d, which is not among the contract's proven events", ErrEvidence, o.LeafIndex)
		}
	}
	if l := c.Latest; l.Size > c.Checkpoint.Size {
		if err := tlogfmt.CheckConsistency(c.Consistency, c.Checkpoint.Size, l.Size, c.Checkpoint.Root, l.Root); err != nil {
			return fmt.Errorf("%w: consistency proof %d -> %d: %w", ErrEvidence, c.Checkpoint.Size, l.Size, err)
		}
		if err := checkNote(l, c.Keys); err != nil {
			return err
		}
	}
	if err := checkNote(c.Checkpoint, c.Keys); err != nil {
		return err
	}
	for i, tok := range c.Checkpoint.Timestamps {
		ti, err := parseToken(tok, c.Checkpoint.Note)
		if err != nil {
			return err
		}
		if !ti.ImprintsOK {
			return fmt.Errorf("%w: RFC 3161 token %d of checkpoint %d is not over its note", ErrEvidence, i, c.Checkpoint.Size)
		}
	}
	return nil
}

// checkNote verifies cp's note with the keys the report will print: every
// log key must have signed it and every notary key must have cosigned it,
// exactly what the bundle checker will demand of the reader.
func checkNote(cp Checkpoint, keys Keys) error {
	var all []note.Verifier
	for _, k := range keys.Log {
		v, err := tlogfmt.NewVerifier(k)
		if err != nil {
			return fmt.Errorf("%w: log key: %w", ErrEvidence, err)
		}
		all = append(all, v)
	}
	if len(all) == 0 {
		return fmt.Errorf("%w: no usable log key", ErrEvidence)
	}
	for _, k := range keys.Notary {
		v, err := tlogfmt.NewCosignatureVerifier(k)
		if err != nil {
			return fmt.Errorf("%w: notary key: %w", ErrEvidence, err)
		}
		all = append(all, v)
	}
	sc, err := tlogfmt.Open(cp.CosignedNote(), note.VerifierList(all...))
	if err != nil {
		return fmt.Errorf("%w: checkpoint %d: %w", ErrEvidence, cp.Size, err)
	}
	if err := sc.RequireSigned(all...); err != nil {
		return fmt.Errorf("%w: checkpoint %d: %w", ErrEvidence, cp.Size, err)
	}
	return nil
}

// hashHex prints a tlog hash in lowercase hex.
func hashHex(h tlog.Hash) string { return hex.EncodeToString(h[:]) }

// hashB64 prints a tlog hash in base64, as checkpoints and tlog-proof do.
func hashB64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
