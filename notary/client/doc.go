// Package client is the log's side of notarization: the client of the
// notary offices (package notary) and of RFC 3161 time-stamping
// authorities.
//
//   - Pusher sends every checkpoint of a Log to each configured Office
//     (retrying with backoff, resending from the size a 409 names), verifies
//     and stores the cosignatures, decides with a tlog-policy quorum when a
//     checkpoint counts as notarized, and stores RFC 3161 tokens from each
//     TSA (Timestamp is the RFC 3161 request, TokenTime reads a stored
//     token).
//   - An office that pulls the log itself (cunzheng notary --pull) is not
//     pushed to: the pusher fetches the cosignatures it made.
//
// Office here is a remote office as the log sees it: a URL (or an
// in-process notary.Office) and its verifier key.
//
// Specs: https://c2sp.org/tlog-witness, https://c2sp.org/tlog-cosignature,
// https://c2sp.org/tlog-policy, https://www.rfc-editor.org/rfc/rfc3161.
package client
