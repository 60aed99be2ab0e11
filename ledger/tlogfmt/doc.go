// Package tlogfmt is the one home of the log's public formats: the bytes a
// court, a notary office or any standard tool exchanges with the log, and
// the checks a reader runs on them. Every producer (ledger, notary, report)
// and every checker (verify, web, cmd) imports it; nothing else parses these
// formats.
//
// It implements:
//
//   - C2SP signed-note (https://c2sp.org/signed-note): verifier keys
//     (NewVerifier, ParseVerifierKeys), signature lines (ParseSignatureLine,
//     SplitNote, AppendSignatures). Ed25519 keys (type 0x01) are handled by
//     golang.org/x/mod/sumdb/note, cosignature keys by
//     github.com/transparency-dev/formats/note, and the log's SM2/SM3 keys,
//     type 0xff followed by the identifier "cunzheng/sm2-sm3/v1", here
//     (SM2Verifier).
//   - C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the checkpoint
//     body (ParseCheckpoint, Checkpoint.Marshal) and a signed checkpoint
//     opened with a key set (Open, SignedCheckpoint).
//   - C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature): Ed25519
//     cosignature/v1 keys (type 0x04, NewCosignatureVerifier) and the time
//     inside a cosignature (CosignatureTime).
//   - C2SP tlog-tiles (https://c2sp.org/tlog-tiles): tile and entry-bundle
//     paths (TilePath, ParseTilePath, TilePathOf).
//   - C2SP tlog-witness (https://c2sp.org/tlog-witness): the add-checkpoint
//     request (AddCheckpoint, ParseAddCheckpoint) that the log side sends and
//     a notary office parses; both sides share this format, not a package.
//   - RFC 6962 / RFC 9162 inclusion and consistency proofs over SHA-256
//     (CheckInclusion, CheckConsistency, via transparency-dev/merkle), and
//     the one-hash-per-line proof text (ParseHashLines).
//   - The evidence bundle manifest, cunzheng-evidence-bundle/v1 (Manifest,
//     ParseManifest), whose inclusion proofs are C2SP tlog-proof files.
//
// Everything here is a pure function of bytes: no I/O, no clock, no
// logging. A test (TestPureImports) keeps it that way.
package tlogfmt
