package notary

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// A notarisation request (公证申请) is a signed note by the log's key, so
// that an office accepts only requests the log it follows made, with no
// further credentials to exchange. Its text:
//
//	cunzheng notarization request v1
//	origin <the log's checkpoint origin>
//	id <request id>
//	contract <the tenant's contract reference, as in the log's leaves>
//	office <the office's key name>
//	time <RFC 3339, UTC>
//	bundle-sha256 <hex SHA-256 of the evidence bundle sent with it>
//
// The request carries no personal data: the contract is named by the same
// salted reference the public leaves use. The office receives it with the
// evidence bundle at POST /v1/requests (multipart fields "request" and
// "bundle").
const requestHeader = "cunzheng notarization request v1"

// MaxRequestNoteBytes bounds a request note.
const MaxRequestNoteBytes = 4 << 10

// Request is a notarisation request.
type Request struct {
	Origin       string    `json:"origin"`
	ID           string    `json:"id"`
	Contract     string    `json:"contract"`
	Office       string    `json:"office"`
	Time         time.Time `json:"time"`
	BundleSHA256 string    `json:"bundle_sha256"`
}

// check reports a field the text form cannot carry.
func (r Request) check() error {
	for name, v := range map[string]string{"origin": r.Origin, "id": r.ID, "contract": r.Contract, "office": r.Office} {
		if v == "" || strings.ContainsAny(v, " \n\r\t") || len(v) > 256 {
			return fmt.Errorf("%w: request %s must be 1-256 characters without spaces", ErrMalformed, name)
		}
	}
	if b, err := hex.DecodeString(r.BundleSHA256); err != nil || len(b) != 32 || strings.ToLower(r.BundleSHA256) != r.BundleSHA256 {
		return fmt.Errorf("%w: request bundle-sha256 must be 64 lowercase hex digits", ErrMalformed)
	}
	if r.Time.IsZero() {
		return fmt.Errorf("%w: request time missing", ErrMalformed)
	}
	return nil
}

// Text returns the note text of r.
func (r Request) Text() string {
	return fmt.Sprintf("%s\norigin %s\nid %s\ncontract %s\noffice %s\ntime %s\nbundle-sha256 %s\n",
		requestHeader, r.Origin, r.ID, r.Contract, r.Office, r.Time.UTC().Format(time.RFC3339), r.BundleSHA256)
}

// SignRequest returns r as a note signed by the log's signers.
func SignRequest(r Request, signers ...note.Signer) ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: r.Text()}, signers...)
	if err != nil {
		return nil, fmt.Errorf("notary: signing request: %w", err)
	}
	return msg, nil
}

// ParseRequestText parses the text of a request note (its signatures
// are checked by the caller).
func ParseRequestText(text string) (Request, error) {
	var r Request
	f, err := noteFields(text, requestHeader, "request", "origin", "id", "contract", "office", "time", "bundle-sha256")
	if err != nil {
		return r, err
	}
	r.Origin, r.ID, r.Contract, r.Office, r.BundleSHA256 = f[0], f[1], f[2], f[3], f[5]
	t, err := time.Parse(time.RFC3339, f[4])
	if err != nil {
		return r, fmt.Errorf("%w: request time: %w", ErrMalformed, err)
	}
	r.Time = t.UTC()
	if err := r.check(); err != nil {
		return r, err
	}
	return r, nil
}

// noteFields parses the text of one of the office's notes (ending in a
// newline): the header line, then a "key value" line for each of keys in
// order; it returns the values. what names the note in errors.
func noteFields(text, header, what string, keys ...string) ([]string, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != len(keys)+2 || lines[len(lines)-1] != "" || lines[0] != header {
		return nil, fmt.Errorf("%w: not a %q note", ErrMalformed, header)
	}
	values := make([]string, len(keys))
	for i, key := range keys {
		k, v, ok := strings.Cut(lines[i+1], " ")
		if !ok || k != key {
			return nil, fmt.Errorf("%w: %s line %d must be %q", ErrMalformed, what, i+2, key)
		}
		values[i] = v
	}
	return values, nil
}

// openRequest verifies a request note's signature by the log of its
// origin, which the office must follow.
func (o *Office) openRequest(msg []byte) (Request, logEntry, error) {
	if len(msg) > MaxRequestNoteBytes {
		return Request{}, logEntry{}, fmt.Errorf("%w: request note larger than %d bytes", ErrMalformed, MaxRequestNoteBytes)
	}
	text, _, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok {
		return Request{}, logEntry{}, fmt.Errorf("%w: request note has no signatures", ErrMalformed)
	}
	r, err := ParseRequestText(string(text) + "\n")
	if err != nil {
		return r, logEntry{}, err
	}
	l, ok := o.logs[r.Origin]
	if !ok {
		return r, logEntry{}, fmt.Errorf("%w: %q", ErrUnknownLog, r.Origin)
	}
	if _, err := note.Open(msg, note.VerifierList(l.Verifier)); err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return r, l, fmt.Errorf("%w: request not signed by %s", ErrBadSignature, r.Origin)
		}
		return r, l, fmt.Errorf("%w: request note: %w", ErrMalformed, err)
	}
	if r.Office != o.Name() {
		return r, l, fmt.Errorf("%w: request is addressed to office %q, this is %q", ErrMalformed, r.Office, o.Name())
	}
	return r, l, nil
}
