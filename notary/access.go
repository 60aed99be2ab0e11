package notary

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Who may read what of a notarisation request at the office.
//
// Anyone reaching the office sees what the log's public leaves say of a
// request (Public): its id, the log, the contract's salted reference, the
// bundle's SHA-256, when it was requested and received, its status and,
// once issued, the 公证书's SHA-256. The office's own checks, a refusal's
// reason, the notary's name and the 公证书 itself name the contract by its
// number (the bundle's manifest does) and the platform's report numbers:
// they go only to the log that made the request (a fetch note signed by
// its key, SignFetch) and to the office's staff (StaffFile).

// Public returns what of r anyone may read: the fields the log's public
// leaves of the request carry, and the status.
func (r RequestRecord) Public() RequestRecord {
	return RequestRecord{
		Request:           r.Request,
		Note:              r.Note,
		ReceivedAt:        r.ReceivedAt,
		Status:            r.Status,
		CertificateSHA256: r.CertificateSHA256,
		IssuedAt:          r.IssuedAt,
	}
}

// ErrUnauthorized is a read of what only the requesting log or the
// office's staff may read, without their credentials (401).
var ErrUnauthorized = errors.New("notary: only the requesting log or the office's staff may read this")

// A fetch note authorises the log that made a request to read the office's
// full record of it and its 公证书, with no credentials beyond the key the
// office already follows the log by. Its text:
//
//	cunzheng notarization fetch v1
//	origin <the log's checkpoint origin>
//	id <request id>
//	time <RFC 3339, UTC>
//
// signed by the log's keys, sent base64 in the Authorization header with
// the scheme FetchAuthScheme. The office accepts it for that request only,
// within FetchAuthSkew of its own clock.
const fetchHeader = "cunzheng notarization fetch v1"

// FetchAuthScheme is the Authorization scheme of a fetch note.
const FetchAuthScheme = "Cunzheng-Log"

// FetchAuthSkew is how far a fetch note's time may be from the office's
// clock: it bounds how long a note seen in transit can be replayed.
const FetchAuthSkew = 5 * time.Minute

// LogAuth is what the log signs its fetches with: its origin and keys.
type LogAuth struct {
	Origin  string
	Signers []note.Signer
}

// Header returns the Authorization header value of a fetch of request id
// at now.
func (a LogAuth) Header(id string, now time.Time) (string, error) {
	if a.Origin == "" || len(a.Signers) == 0 {
		return "", errors.New("notary: a fetch needs the log's origin and keys")
	}
	for _, v := range []string{a.Origin, id} {
		if v == "" || strings.ContainsAny(v, " \n\r\t") || len(v) > 256 {
			return "", fmt.Errorf("%w: fetch origin and id must be 1-256 characters without spaces", ErrMalformed)
		}
	}
	text := fmt.Sprintf("%s\norigin %s\nid %s\ntime %s\n", fetchHeader, a.Origin, id, now.UTC().Format(time.RFC3339))
	msg, err := note.Sign(&note.Note{Text: text}, a.Signers...)
	if err != nil {
		return "", fmt.Errorf("notary: signing fetch: %w", err)
	}
	return FetchAuthScheme + " " + base64.StdEncoding.EncodeToString(msg), nil
}

// AuthorizeFetch checks an Authorization header of a fetch of request id:
// a fetch note of id, fresh, signed by the log the office follows under
// its origin, which must be the log that made the request. It returns
// ErrUnauthorized for a missing or other kind of header, ErrBadSignature
// for a note that is not the requesting log's, and ErrNotFound for an
// unknown request.
func (o *Office) AuthorizeFetch(ctx context.Context, header, id string, now time.Time) error {
	origin, err := CheckFetch(header, id, now, func(origin string) (note.Verifier, error) {
		l, ok := o.logs[origin]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownLog, origin)
		}
		return l.Verifier, nil
	})
	if err != nil {
		return err
	}
	rec, err := o.RequestByID(ctx, id)
	if err != nil {
		return err
	}
	if rec.Origin != origin {
		return fmt.Errorf("%w: request %q was made by another log", ErrBadSignature, id)
	}
	return nil
}

// CheckFetch checks an Authorization header carrying a fetch note of
// request id at now, with the verifier verifierOf gives for the note's
// origin, and returns that origin. Errors as AuthorizeFetch's.
func CheckFetch(header, id string, now time.Time, verifierOf func(origin string) (note.Verifier, error)) (string, error) {
	scheme, b64, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, FetchAuthScheme) {
		return "", ErrUnauthorized
	}
	msg, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(msg) > MaxRequestNoteBytes {
		return "", fmt.Errorf("%w: the fetch note is not base64 of a signed note", ErrMalformed)
	}
	text, _, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok {
		return "", fmt.Errorf("%w: fetch note has no signatures", ErrMalformed)
	}
	f, err := noteFields(string(text)+"\n", fetchHeader, "fetch note", "origin", "id", "time")
	if err != nil {
		return "", err
	}
	origin, noteID, at := f[0], f[1], f[2]
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return "", fmt.Errorf("%w: fetch note time: %w", ErrMalformed, err)
	}
	v, err := verifierOf(origin)
	if err != nil {
		return "", err
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		return "", fmt.Errorf("%w: fetch note not signed by %s", ErrBadSignature, origin)
	}
	if noteID != id {
		return "", fmt.Errorf("%w: the fetch note is for request %q, not %q", ErrBadSignature, noteID, id)
	}
	if d := now.Sub(t); d > FetchAuthSkew || d < -FetchAuthSkew {
		return "", fmt.Errorf("%w: the fetch note is dated %s, more than %s from the office's clock", ErrBadSignature, t.Format(time.RFC3339), FetchAuthSkew)
	}
	return origin, nil
}
