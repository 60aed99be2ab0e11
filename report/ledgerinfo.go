package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/timestamp"
	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrEvidence means the evidence handed to the report does not hold
// together (a proof that does not verify, a note that does not parse): the
// report refuses to print it rather than issue a document that a reader
// would later find broken.
var ErrEvidence = errors.New("report: evidence does not verify")

// noteInfo is what a report prints about a checkpoint, parsed from its note.
type noteInfo struct {
	Origin string
	Size   uint64
	Root   tlog.Hash
	Text   string    // the checkpoint body
	Sigs   []sigLine // the log's own signature lines
	Cosigs []sigLine // the notaries' cosignature lines
}

// sigLine is one signature line of a note.
type sigLine struct {
	Name    string
	KeyHash uint32
	Base64  string
	Time    time.Time // cosignature/v1 timestamp, zero for plain signatures
}

// parseCheckpoint parses c's note (and cosignature lines) without verifying
// signatures, and checks that its body names c.Size and c.Root.
func parseCheckpoint(c Checkpoint) (noteInfo, error) {
	var ni noteInfo
	text, sigs, ok := bytes.Cut(c.Note, []byte("\n\n"))
	if !ok {
		return ni, fmt.Errorf("%w: checkpoint note has no signature block", ErrEvidence)
	}
	lines := strings.SplitN(string(text), "\n", 4)
	if len(lines) < 3 {
		return ni, fmt.Errorf("%w: checkpoint body has %d lines", ErrEvidence, len(lines))
	}
	ni.Origin = lines[0]
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return ni, fmt.Errorf("%w: checkpoint size %q", ErrEvidence, lines[1])
	}
	ni.Size = size
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return ni, fmt.Errorf("%w: checkpoint root %q", ErrEvidence, lines[2])
	}
	copy(ni.Root[:], root)
	if ni.Size != c.Size || ni.Root != c.Root {
		return ni, fmt.Errorf("%w: checkpoint note says size %d root %s, ledger says size %d root %s",
			ErrEvidence, ni.Size, ni.Root, c.Size, c.Root)
	}
	ni.Text = string(text) + "\n"
	for _, l := range strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n") {
		s, err := parseSigLine(l)
		if err != nil {
			return ni, err
		}
		ni.Sigs = append(ni.Sigs, s)
	}
	for _, l := range c.Cosignatures {
		s, err := parseSigLine(strings.TrimSuffix(string(l), "\n"))
		if err != nil {
			return ni, err
		}
		ni.Cosigs = append(ni.Cosigs, s)
	}
	return ni, nil
}

// parseSigLine parses "— name base64" (C2SP signed-note).
func parseSigLine(l string) (sigLine, error) {
	rest, ok := strings.CutPrefix(l, "— ")
	name, b64, ok2 := strings.Cut(rest, " ")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if !ok || !ok2 || err != nil || len(raw) < 5 {
		return sigLine{}, fmt.Errorf("%w: malformed signature line %q", ErrEvidence, l)
	}
	s := sigLine{Name: name, Base64: b64, KeyHash: uint32(raw[0])<<24 | uint32(raw[1])<<16 | uint32(raw[2])<<8 | uint32(raw[3])}
	// A cosignature/v1 signature is key hash, 8-byte timestamp and a
	// 64-byte Ed25519 signature; only then does the timestamp mean anything.
	if len(raw) == 4+8+64 {
		if t, err := tnote.CoSigV1Timestamp(note.Signature{Name: name, Hash: s.KeyHash, Base64: b64}); err == nil {
			s.Time = t
		}
	}
	return s, nil
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
func checkProofs(c *Contract, parseLogKey func(string) (note.Verifier, error)) error {
	if c.Checkpoint.Size == 0 {
		return fmt.Errorf("%w: no checkpoint", ErrEvidence)
	}
	for _, e := range c.Events {
		if len(e.Leaf) > 0 && tlog.RecordHash(e.Leaf) != e.LeafHash {
			return fmt.Errorf("%w: leaf %d: bytes do not hash to the leaf hash", ErrEvidence, e.LeafIndex)
		}
		if err := tlog.CheckRecord(e.Inclusion, int64(c.Checkpoint.Size), c.Checkpoint.Root, int64(e.LeafIndex), e.LeafHash); err != nil {
			return fmt.Errorf("%w: leaf %d: inclusion proof against checkpoint %d: %w", ErrEvidence, e.LeafIndex, c.Checkpoint.Size, err)
		}
	}
	if l := c.Latest; l.Size > c.Checkpoint.Size {
		if err := tlog.CheckTree(c.Consistency, int64(l.Size), l.Root, int64(c.Checkpoint.Size), c.Checkpoint.Root); err != nil {
			return fmt.Errorf("%w: consistency proof %d -> %d: %w", ErrEvidence, c.Checkpoint.Size, l.Size, err)
		}
		if err := checkNote(l, c.Keys, parseLogKey); err != nil {
			return err
		}
	}
	if err := checkNote(c.Checkpoint, c.Keys, parseLogKey); err != nil {
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
// log key it can parse must have signed it and every notary key must have
// cosigned it, exactly what the bundle checker will demand of the reader.
// (A log key of a type parseLogKey cannot parse, the log's SM2 key unless
// Config.ParseLogKey knows it, is left to verifiers that do.)
func checkNote(cp Checkpoint, keys Keys, parseLogKey func(string) (note.Verifier, error)) error {
	if parseLogKey == nil {
		parseLogKey = tnote.NewVerifier
	}
	var logKeys, all []note.Verifier
	for _, k := range keys.Log {
		if v, err := parseLogKey(k); err == nil {
			logKeys = append(logKeys, v)
		}
	}
	all = append(all, logKeys...)
	for _, k := range keys.Notary {
		v, err := tnote.NewVerifierForCosignatureV1(k)
		if err != nil {
			return fmt.Errorf("%w: notary key %q: %w", ErrEvidence, k, err)
		}
		all = append(all, v)
	}
	if len(logKeys) == 0 {
		return fmt.Errorf("%w: no usable log key", ErrEvidence)
	}
	n, err := note.Open(cp.CosignedNote(), note.VerifierList(all...))
	if err != nil {
		return fmt.Errorf("%w: checkpoint %d: %w", ErrEvidence, cp.Size, err)
	}
	have := map[[2]string]bool{}
	for _, s := range n.Sigs {
		have[[2]string{s.Name, fmt.Sprint(s.Hash)}] = true
	}
	for _, v := range all {
		if !have[[2]string{v.Name(), fmt.Sprint(v.KeyHash())}] {
			return fmt.Errorf("%w: checkpoint %d lacks a valid signature by %s", ErrEvidence, cp.Size, v.Name())
		}
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
