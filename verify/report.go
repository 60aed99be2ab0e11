package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// Indication is the main status of a validation in ETSI EN 319 102-1 §5.1.3.
type Indication string

// The three main indications.
const (
	TotalPassed   Indication = "TOTAL-PASSED"
	TotalFailed   Indication = "TOTAL-FAILED"
	Indeterminate Indication = "INDETERMINATE"
)

// SubIndication refines FAILED and INDETERMINATE (EN 319 102-1 Table 5).
type SubIndication string

// Sub-indications this verifier gives.
const (
	FormatFailure             SubIndication = "FORMAT_FAILURE"
	HashFailure               SubIndication = "HASH_FAILURE"
	SigCryptoFailure          SubIndication = "SIG_CRYPTO_FAILURE"
	Revoked                   SubIndication = "REVOKED"
	Expired                   SubIndication = "EXPIRED"
	NotYetValid               SubIndication = "NOT_YET_VALID"
	SigConstraintsFailure     SubIndication = "SIG_CONSTRAINTS_FAILURE"
	ChainConstraintsFailure   SubIndication = "CHAIN_CONSTRAINTS_FAILURE"
	CryptoConstraintsFailure  SubIndication = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
	NoSigningCertificateFound SubIndication = "NO_SIGNING_CERTIFICATE_FOUND"
	NoCertificateChainFound   SubIndication = "NO_CERTIFICATE_CHAIN_FOUND"
	RevokedNoPOE              SubIndication = "REVOKED_NO_POE"
	OutOfBoundsNoPOE          SubIndication = "OUT_OF_BOUNDS_NO_POE"
	TryLater                  SubIndication = "TRY_LATER"
	NoPOE                     SubIndication = "NO_POE"
	SignedDataNotFound        SubIndication = "SIGNED_DATA_NOT_FOUND"
	Generic                   SubIndication = "GENERIC"
)

// Text is one plain sentence in Chinese and in English.
type Text struct {
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// Verdict is an indication with its sub-indication and a sentence a court
// clerk can read aloud.
type Verdict struct {
	Indication    Indication    `json:"indication"`
	SubIndication SubIndication `json:"subIndication,omitempty"`
	Message       Text          `json:"message"`
}

// Report is the result of verifying one PDF.
type Report struct {
	Verdict         Verdict      `json:"verdict"`
	FileSHA256      string       `json:"fileSha256"`
	Size            int64        `json:"size"`
	Revisions       int          `json:"revisions"`
	Signatures      []*Signature `json:"signatures"`
	LastSigningTime *time.Time   `json:"lastSigningTime,omitempty"`
	// UnsignedChanges is true when the newest signature does not cover the
	// end of the file.
	UnsignedChanges bool `json:"unsignedChanges"`
	// DamagedBytes counts bytes after the last readable revision: a
	// truncated or corrupted update that cannot be judged.
	DamagedBytes int64         `json:"damagedBytes,omitempty"`
	Ledger       *LedgerRecord `json:"ledger,omitempty"`
	// RevisionLedger are the ledger's records of the file's earlier
	// revisions (each a prefix of the file ending at a revision's %%EOF)
	// that no signature covers: a contract the platform signed last by an
	// incremental update starts with the document as sent, which the
	// signers' contract.signed events name. Only revisions the ledger
	// holds are listed, oldest first; at most MaxRevisionLookups are
	// looked up.
	RevisionLedger []RevisionRecord `json:"revisionLedger,omitempty"`
	CheckedAt      time.Time        `json:"checkedAt"`
}

// RevisionRecord is the ledger's record of one earlier revision of the file.
type RevisionRecord struct {
	// Revision is 1-based, as Signature.Revision.
	Revision int `json:"revision"`
	// SHA256 is the hex SHA-256 of the file up to the end of Revision.
	SHA256 string        `json:"sha256"`
	Ledger *LedgerRecord `json:"ledger"`
}

// Signature is the finding for one signature or document timestamp.
type Signature struct {
	Index       int    `json:"index"` // 1-based, in file order
	Kind        string `json:"kind"`  // "signature" or "document-timestamp"
	FieldName   string `json:"fieldName,omitempty"`
	SubFilter   string `json:"subFilter,omitempty"`
	Name        string `json:"name,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Location    string `json:"location,omitempty"`
	ContactInfo string `json:"contactInfo,omitempty"`

	ByteRange []int64 `json:"byteRange"`
	// Revision is the 1-based revision the signature covers.
	Revision        int    `json:"revision,omitempty"`
	CoverageOK      bool   `json:"coverageOk"`
	CoversWholeFile bool   `json:"coversWholeFile"`
	DigestAlgorithm string `json:"digestAlgorithm,omitempty"`
	DigestOK        bool   `json:"digestOk"`
	Algorithm       string `json:"signatureAlgorithm,omitempty"`
	SignatureOK     bool   `json:"signatureOk"`

	Signer       *Certificate  `json:"signer,omitempty"`
	Chain        []Certificate `json:"chain,omitempty"`
	ChainTrusted bool          `json:"chainTrusted"`
	Revocation   []Revocation  `json:"revocation,omitempty"`
	// EmbeddedCRLs and EmbeddedOCSPs count the revocation data the file
	// carries for this signature (CMS, adbe-revocationInfoArchival, DSS).
	EmbeddedCRLs  int `json:"embeddedCrls"`
	EmbeddedOCSPs int `json:"embeddedOcsps"`

	ClaimedSigningTime *time.Time `json:"claimedSigningTime,omitempty"`
	Timestamp          *Timestamp `json:"timestamp,omitempty"`

	DocMDP         int      `json:"docMdp,omitempty"` // 1, 2 or 3; 0 when absent
	LockedFields   []string `json:"lockedFields,omitempty"`
	LockAllFields  bool     `json:"lockAllFields,omitempty"`
	Changes        []Change `json:"changes,omitempty"`
	ChangedAfter   bool     `json:"changedAfter"`
	ChangesAllowed bool     `json:"changesAllowed"`

	RevisionSHA256 string        `json:"revisionSha256,omitempty"`
	Ledger         *LedgerRecord `json:"ledger,omitempty"`

	Problems []string `json:"problems,omitempty"`
	Verdict  Verdict  `json:"verdict"`
}

// Certificate is what a reader needs to know about one certificate.
type Certificate struct {
	Subject            string    `json:"subject"`
	CommonName         string    `json:"commonName,omitempty"`
	Organization       string    `json:"organization,omitempty"`
	Issuer             string    `json:"issuer"`
	Serial             string    `json:"serial"`
	NotBefore          time.Time `json:"notBefore"`
	NotAfter           time.Time `json:"notAfter"`
	KeyUsage           []string  `json:"keyUsage,omitempty"`
	ExtKeyUsage        []string  `json:"extKeyUsage,omitempty"`
	PublicKeyAlgorithm string    `json:"publicKeyAlgorithm"`
	SHA256             string    `json:"sha256"`
}

// Revocation is the status of one certificate from embedded data.
type Revocation struct {
	Subject   string     `json:"subject"`
	Status    string     `json:"status"` // "good", "revoked", "unknown"
	Source    string     `json:"source,omitempty"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	Produced  *time.Time `json:"produced,omitempty"`
}

// Timestamp is a verified (or failed) RFC 3161 token.
type Timestamp struct {
	Time         time.Time    `json:"time"`
	TSA          *Certificate `json:"tsa,omitempty"`
	ImprintOK    bool         `json:"imprintOk"`
	SignatureOK  bool         `json:"signatureOk"`
	Trusted      bool         `json:"trusted"`
	RevocationOK bool         `json:"revocationOk"`
	Problem      string       `json:"problem,omitempty"`
}

// State says in a word or two what the token is, Chinese first, for the CLI
// and the result pages alike. A token whose signature and imprint verify
// but whose authority does not chain to a trusted root is untrusted, not
// invalid: it is intact, only its issuer is unknown to this verifier (the
// ETSI indication for that stays INDETERMINATE, as EN 319 102-1 defines it).
func (t *Timestamp) State() Text {
	switch {
	case t.SignatureOK && t.ImprintOK && t.Trusted && t.RevocationOK && t.Problem == "":
		return Text{"有效", "valid"}
	case t.SignatureOK && t.ImprintOK && !t.Trusted:
		return Text{"不受信任", "untrusted"}
	case t.Problem == problemTSARevoked:
		return Text{"已吊销", "revoked"}
	case t.SignatureOK && t.ImprintOK && !t.RevocationOK:
		return Text{"吊销状态未确认", "revocation not confirmed"}
	default:
		return Text{"无效", "invalid"}
	}
}

// Change is one classified object change in an incremental update.
type Change struct {
	Revision int    `json:"revision"`
	Kind     string `json:"kind"` // ChangeSignature, ChangeFormFill, ...
	Object   string `json:"object"`
	Field    string `json:"field,omitempty"`
	Allowed  bool   `json:"allowed"`
}

// Kinds of change after a signature.
const (
	ChangeSignature  = "signature"  // a new signature or signature field
	ChangeTimestamp  = "timestamp"  // a new document timestamp
	ChangeDSS        = "dss"        // validation data (certificates, CRLs, OCSP) added
	ChangeFormFill   = "form-fill"  // a field value filled in
	ChangeAnnotation = "annotation" // a comment or markup added or changed
	ChangeMetadata   = "metadata"   // document information or XMP metadata
	ChangeOther      = "other"      // anything else: content, pages, structure
)

func certInfo(c *smx509.Certificate) Certificate {
	sum := sha256.Sum256(c.Raw)
	ci := Certificate{
		Subject:            c.Subject.String(),
		CommonName:         c.Subject.CommonName,
		Issuer:             c.Issuer.String(),
		Serial:             strings.ToUpper(c.SerialNumber.Text(16)),
		NotBefore:          c.NotBefore.UTC(),
		NotAfter:           c.NotAfter.UTC(),
		PublicKeyAlgorithm: publicKeyName(c),
		SHA256:             hex.EncodeToString(sum[:]),
	}
	if len(c.Subject.Organization) > 0 {
		ci.Organization = c.Subject.Organization[0]
	}
	names := []string{"digitalSignature", "contentCommitment", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	for i, n := range names {
		if c.KeyUsage&(1<<i) != 0 {
			ci.KeyUsage = append(ci.KeyUsage, n)
		}
	}
	ekus := map[int]string{1: "serverAuth", 2: "clientAuth", 3: "codeSigning", 4: "emailProtection", 8: "timeStamping", 9: "OCSPSigning", 0: "any"}
	for _, e := range c.ExtKeyUsage {
		if n, ok := ekus[int(e)]; ok {
			ci.ExtKeyUsage = append(ci.ExtKeyUsage, n)
		}
	}
	return ci
}

func publicKeyName(c *smx509.Certificate) string {
	if isSM2Key(c.PublicKey) {
		return "SM2"
	}
	return c.PublicKeyAlgorithm.String()
}
