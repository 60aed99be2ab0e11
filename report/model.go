// Package report renders what a legal team takes to court: the signing
// certificate page (签约存证页), the evidence report (电子签约数据证据报告) and the
// offline-verifiable evidence bundle, and signs the PDFs it produces (PAdES
// with an RFC 3161 signature timestamp).
//
// The package knows nothing of storage or HTTP. The caller fills a Contract
// (the view model below) from the evidence store, the ledger and the notary
// side, and the Service turns it into bytes. Personal values travel as
// Personal and are masked at render time unless the request asked to reveal
// them, so that masking is the default and lives in one place.
package report

import (
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
)

// Contract is the view model of one contract: everything a certificate
// page, an evidence report or a bundle shows about it. The caller (the
// server wiring) fills it from evidence, ledger and notary; the report
// package never fetches anything itself.
type Contract struct {
	// ID is the platform's contract number (合同编号).
	ID string
	// Name is the contract title (合同名称).
	Name string
	// Platform is the signing platform that sent it (发起平台).
	Platform string
	// Company is the sender's enterprise (所属企业).
	Company string
	// Sender is the sending account (发件人账号) with its name.
	Sender Party
	// SenderIP is the IP address the contract was sent from (发起IP).
	SenderIP Personal
	// SentAt and CompletedAt are the send time and the completion time.
	SentAt, CompletedAt time.Time
	// Files are the completed files with their digests (文件清单), or, for
	// a contract never completed, the files it was sent with
	// (FilesAsSent set).
	Files       []File
	FilesAsSent bool
	// SentFiles are the files contract.sent named that no completion
	// names: the documents as sent, which the signers were shown and
	// signed, when the completed file is another one (the platform's
	// signed PDF). Shown beside Files, so that every hash a signing event
	// names is on the page.
	SentFiles []File
	// SignerCount is the number of signers contract.sent recorded
	// (签署人数); 0 when none was recorded, and len(Signers) is shown.
	SignerCount int
	// EventCount is the contract's event count (事件数), by the one
	// definition the console and the API use (evidence.CountsAsEvent): the
	// events the platform recorded about the contract, without the chain
	// of custody.
	EventCount int
	// Status is where the contract stands (StatusCompleted, ...), as of
	// StatusAt.
	Status   string
	StatusAt time.Time
	// Endings are the rejections (拒签) and revocations (撤销) with their
	// reasons.
	Endings []Ending
	// Tenant is the name of the tenant whose contract it is; reports name
	// it as the requester (申请方).
	Tenant string
	// Originals are the original documents the platform stored (PUT
	// /v1/documents) whose SHA-256 a leaf of the contract records: the
	// bundle carries them and verify bundle checks them against the leaf.
	Originals []Original
	// Signers are the signing parties (签署记录), in signing order.
	Signers []Signer
	// IdentityChecks are the real-name checks (实名认证) of every party.
	IdentityChecks []IdentityCheck
	// Intents are the intent verifications (意愿认证).
	Intents []IntentVerification
	// Events is the full timeline, each with its ledger reference, in log
	// order.
	Events []Event
	// Custody lists the reports issued earlier for this contract
	// (report.issued events), the chain of custody.
	Custody []CustodyEntry
	// Erased lists the personal fields destroyed by crypto-shredding.
	Erased []ErasedField
	// Openings are the commitments the requester may see opened: the salt
	// and value behind a SHA-256(salt || value) commitment in a leaf. Only
	// filled when the request reveals personal data.
	Openings []Opening

	// Checkpoint is the cosigned and timestamped checkpoint every inclusion
	// proof in Events is computed against.
	Checkpoint Checkpoint
	// Latest is the newest checkpoint of the log; Consistency proves that
	// Checkpoint.Size grows into Latest.Size. When Latest.Size equals
	// Checkpoint.Size, Latest may be left zero.
	Latest      Checkpoint
	Consistency []tlog.Hash

	// Keys are the public keys a reader needs to check everything offline.
	Keys Keys
}

// Statuses of a contract (Contract.Status).
const (
	StatusCompleted  = "completed"
	StatusRejected   = "rejected"
	StatusRevoked    = "revoked"
	StatusInProgress = "in-progress"
)

// Ending is a rejection or revocation of the contract.
type Ending struct {
	Kind      string // "contract.rejected" or "contract.revoked"
	At        time.Time
	Actor     Personal
	Account   Personal
	Reason    Personal // KindText
	LeafIndex uint64
}

// Party is an account holder: a person or an enterprise.
type Party struct {
	Name       Personal
	Account    Personal // login account: a phone number or an e-mail address
	Company    string   // the enterprise the person acts for (所属企业)
	CreditCode string   // its unified social credit code (统一社会信用代码)
}

// Signer is one signing party and what it did.
type Signer struct {
	Party
	ReceivedAt      time.Time
	ReceiveAccount  Personal
	ReceivePhone    Personal
	ReceiveEmail    Personal
	SignedAt        time.Time
	SignIP          Personal
	Methods         []Method // verification methods used when signing (签署校验方式)
	CertSerial      string   // serial of the signing certificate (证书序列号)
	CertIssuer      string
	SignedFile      string
	Positions       []Position
	SignedLeafIndex uint64 // leaf index of the contract.signed event
	// SealID and SealSHA256 name the seal used (印章管控), if any.
	SealID, SealSHA256 string
	// Signed is set once the signer's contract.signed is recorded;
	// Rejected when the signer rejected the contract instead.
	Signed, Rejected bool
	// Imported is set when the platform marked the signature imported
	// from another system (data.imported): its sending and intent checks
	// were not recorded here.
	Imported bool
}

// Method is one verification performed before signing.
type Method struct {
	Name   string // e.g. "sms_code"
	Result string
	At     time.Time
}

// Position is where a signature was placed on a page, as fractions of the
// page width and height from the top-left corner.
type Position struct {
	Page int
	X, Y float64
}

// Original is an original document and the leaf that records its hash.
type Original struct {
	Name      string
	SHA256    string
	Data      []byte
	LeafIndex uint64
}

// File is a completed document and its fingerprints.
type File struct {
	Name   string
	SHA256 string // lowercase hex
	SM3    string // lowercase hex, empty when the platform sent none
}

// IdentityCheck is one real-name verification (实名认证).
type IdentityCheck struct {
	// Account is the subject's account, to list the check with its signer.
	Account    Personal
	Subject    Personal // the person or enterprise checked
	Company    string   // the enterprise, for an enterprise check or an agent
	CreditCode string
	IDNumber   Personal
	Phone      Personal
	Method     string // phone3, bankcard4, face, enterprise4, remittance, authorization_letter
	Source     string // authoritative source consulted
	Result     string
	CA         string
	CertSerial string
	At         time.Time
	LeafIndex  uint64
	// Details are the method's own facts, in the order shown.
	Details []Detail
}

// IntentVerification is one intent check (意愿认证) for this contract.
type IntentVerification struct {
	Account   Personal
	Subject   Personal
	Method    string // sms_code, face, password, otp_token, liveness
	Result    string
	At        time.Time
	IP        Personal
	LeafIndex uint64
	Details   []Detail
}

// Detail is one fact of a check (the card number of 银行卡四要素, the
// similarity of 刷脸): Field is its code in the event schema ("card_number",
// "face.similarity"), which names its label; a public fact is in Public, a
// personal one in Value (masked unless revealed).
type Detail struct {
	Field  string
	Public string
	Value  Personal
}

// Event is one timeline entry with its place in the ledger.
type Event struct {
	Kind      string // evidence kind, e.g. "contract.signed"
	At        time.Time
	Actor     Personal
	Summary   string // one line, no personal data (the caller renders it)
	LeafIndex uint64
	LeafHash  tlog.Hash
	Leaf      []byte      // the public record bytes as logged
	Inclusion []tlog.Hash // inclusion proof against Contract.Checkpoint
}

// CustodyEntry is one earlier issuance of a report (report.issued).
type CustodyEntry struct {
	ReportNumber string
	Kind         string // "certificate", "evidence-report", "evidence-bundle"
	Requester    string // tenant key label, never a person's data
	Revealed     bool
	At           time.Time
	LeafIndex    uint64
}

// ErasedField says that a personal field was destroyed.
type ErasedField struct {
	Field       string // human label, e.g. "叶建华 / id_number"
	ErasedAt    time.Time
	ErasureLeaf uint64 // leaf index of the data.erased event
}

// Opening opens one commitment in a leaf: SHA-256(Salt || Value) must equal
// the commitment found at Pointer (RFC 6901) in the JSON leaf at LeafIndex.
type Opening struct {
	LeafIndex uint64
	Pointer   string
	Salt      []byte
	Value     string
}

// Checkpoint is a published checkpoint with what vouches for it, in the
// shape of the ledger's checkpoint. The report parses Note, the cosignature
// lines and the RFC 3161 tokens itself for what it prints (origin, notary
// names and times, TSA and genTime), so the caller cannot make it print a
// detail the evidence does not carry.
type Checkpoint struct {
	Size uint64
	Root tlog.Hash
	Time time.Time // when the log published it
	// Note is the signed note exactly as the log signed it.
	Note []byte
	// Cosignatures are the notaries' signature lines ("— name base64\n").
	Cosignatures [][]byte
	// Timestamps are RFC 3161 TimeStampTokens (DER) over Note.
	Timestamps [][]byte
}

// CosignedNote returns Note with the cosignature lines appended, the form
// every C2SP note verifier holding a notary key accepts.
func (c Checkpoint) CosignedNote() []byte {
	return tlogfmt.AppendSignatures(c.Note, c.Cosignatures...)
}

// Keys are the public keys a reader needs.
type Keys struct {
	Log     []string // note verifier keys of the log (Ed25519, SM2)
	Notary  []string // cosignature/v1 verifier keys of the notaries
	TSACert [][]byte // DER certificates of the time-stamping authorities
}

// Request says who asked for a report and how it is to be shown.
type Request struct {
	// ReportNumber identifies this issuance; it is printed in every page
	// header and logged as report.issued.
	ReportNumber string
	// Requester is the tenant (and key label) that asked; never a person.
	Requester string
	// Reveal shows personal values unmasked (legal key with ?reveal=true).
	Reveal bool
	// IssuedAt is the issue time printed on the report.
	IssuedAt time.Time
}

// LeafHash returns the RFC 6962 leaf hash of leaf, SHA-256(0x00 || leaf).
func LeafHash(leaf []byte) tlog.Hash { return tlog.RecordHash(leaf) }
