package tlogfmt

import (
	"bytes"
	"encoding/json"
	"time"
)

// BundleFormat names version 1 of the evidence bundle format, the value of
// Manifest.Format.
const BundleFormat = "cunzheng-evidence-bundle/v1"

// Bundle file names. Paths with <N> are per leaf index or tree size.
const (
	BundleManifest       = "manifest.json"
	BundleCertificatePDF = "certificate.pdf"
	BundleEvidencePDF    = "evidence-report.pdf"
)

// Manifest is manifest.json of an evidence bundle: what the bundle holds and
// which file is which. The manifest itself is not signed; everything it
// points to is checked against the log's and notaries' signatures, the TSA
// tokens and, for the PDFs and keys, the digests listed here.
type Manifest struct {
	Format       string                `json:"format"`
	ReportNumber string                `json:"report_number"`
	Contract     string                `json:"contract"`
	IssuedAt     time.Time             `json:"issued_at"`
	Origin       string                `json:"origin"`     // the log's checkpoint origin
	Checkpoint   uint64                `json:"checkpoint"` // tree size every inclusion proof uses
	Events       []ManifestEvent       `json:"events"`
	Checkpoints  []ManifestCheckpoint  `json:"checkpoints"`
	Consistency  []ManifestConsistency `json:"consistency,omitempty"`
	Openings     []ManifestOpening     `json:"openings,omitempty"`
	Keys         ManifestKeys          `json:"keys"`
	Files        []ManifestFile        `json:"files"`
	// Documents are the original contract files the bundle carries, each
	// named by the SHA-256 a verified leaf records.
	Documents []ManifestDocument `json:"documents,omitempty"`
}

// ManifestDocument is an original document (the signed contract PDF):
// its file's SHA-256 must be SHA256, and the leaf of Index (a verified
// event of the bundle) must record that hash (data.document.sha256 or
// data.files[].sha256).
type ManifestDocument struct {
	Path   string `json:"path"`
	Name   string `json:"name,omitempty"`
	SHA256 string `json:"sha256"`
	Index  uint64 `json:"index"`
}

// ManifestEvent is one logged event: leaf bytes and its inclusion proof
// (C2SP tlog-proof, whose checkpoint is the cosigned note of size
// Manifest.Checkpoint).
type ManifestEvent struct {
	Index    uint64 `json:"index"`
	Kind     string `json:"kind"`
	Leaf     string `json:"leaf"`      // path of the leaf bytes
	LeafHash string `json:"leaf_hash"` // hex SHA-256(0x00 || leaf)
	Proof    string `json:"proof"`     // path of the .tlog-proof file
}

// ManifestCheckpoint is one checkpoint: the note exactly as the log signed
// it (what the RFC 3161 tokens cover), the same note with the notaries'
// cosignature lines appended, and the tokens (DER).
type ManifestCheckpoint struct {
	Size       uint64   `json:"size"`
	Root       string   `json:"root"` // base64, as in the note
	Signed     string   `json:"signed"`
	Cosigned   string   `json:"cosigned"`
	Timestamps []string `json:"timestamps"`
}

// ManifestConsistency is a consistency proof between two checkpoints of
// the bundle, one base64 hash per line.
type ManifestConsistency struct {
	Old   uint64 `json:"old"`
	New   uint64 `json:"new"`
	Proof string `json:"proof"`
}

// ManifestOpening opens a commitment: SHA-256(salt || value) must equal the
// commitment at Pointer (RFC 6901) in the JSON leaf of Index. The
// commitment there is 64 hex digits or base64, optionally "sha256:"-prefixed.
type ManifestOpening struct {
	Index   uint64 `json:"index"`
	Pointer string `json:"pointer"`
	Salt    string `json:"salt"` // base64
	Value   string `json:"value"`
}

// ManifestKeys names the public keys the bundle carries. A verifier should
// pin the log and notary keys from a published source rather than trust
// these.
type ManifestKeys struct {
	Log             []string `json:"log"`                        // note verifier keys
	Notary          []string `json:"notary"`                     // cosignature/v1 verifier keys
	TSARoots        string   `json:"tsa_roots,omitempty"`        // PEM file of TSA root certificates
	TSACerts        []string `json:"tsa_certs,omitempty"`        // PEM files of TSA (intermediate) certificates
	DocumentSigning string   `json:"document_signing,omitempty"` // PEM chain of the PDF signing certificate
}

// ManifestFile lists a file with its SHA-256 (hex). Every file of the
// bundle but the manifest is listed.
type ManifestFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// ParseManifest decodes manifest.json strictly (unknown fields are an
// error) and checks that it names this format and holds at least one
// checkpoint and one event. What the manifest points to is checked by the
// bundle verifier (verify.Bundle).
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, malformed("manifest", "%v", err)
	}
	if m.Format != BundleFormat {
		return nil, malformed("manifest", "format %q, want %q", m.Format, BundleFormat)
	}
	if len(m.Checkpoints) == 0 || len(m.Events) == 0 {
		return nil, malformed("manifest", "no checkpoint or no event")
	}
	return &m, nil
}
