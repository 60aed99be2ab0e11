// Package notary is the office side of notarization, which holds a
// transparency log to account from outside: partner notary offices (公证处)
// that cosign its checkpoints only when each one provably extends the last,
// keep evidence of any split view, keep their own copy of every leaf hash
// (保存数字指纹), and time-stamp.
//
//   - Office is a C2SP tlog-witness: AddCheckpoint verifies the log's
//     signature (ignoring the SM2 line and other unknown keys, as note
//     does), the consistency proof from the size it last cosigned, refuses
//     rollbacks and forks with the spec's errors, commits its new state
//     with fsync and only then returns a cosignature/v1 line. Conflicting
//     signed checkpoints are kept as Alarms with both notes.
//   - Office.Pull mirrors a log over C2SP tlog-tiles: it hashes every leaf
//     hash into its own compact range, cosigns the checkpoints it verified
//     that way, and answers Fingerprints from its own store.
//   - TSA is an RFC 3161 time-stamping authority with its own CA, whose
//     tokens `openssl ts -verify` accepts.
//
// The log's side of the protocol, the pusher that sends checkpoints to
// offices and TSAs, is notary/client.
//
// Specs: https://c2sp.org/tlog-witness, https://c2sp.org/tlog-cosignature,
// https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note,
// https://c2sp.org/tlog-tiles, https://www.rfc-editor.org/rfc/rfc3161.
package notary
