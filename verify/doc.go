// Package verify checks signed PDFs the way a court needs them checked
// (在线验签): every signature and document timestamp in every revision, what
// each one covers, whether its cryptography holds, who signed and whether
// that certificate chains to a trusted root and was not revoked, when it
// was signed, what changed afterwards and whether the signer allowed it,
// and whether the platform's ledger holds the document. The result is a
// Report with an ETSI EN 319 102-1 verdict and one plain sentence in
// Chinese and English per signature and for the document.
//
// What it checks, per signature:
//
//   - The byte range covers one whole revision (it ends at that revision's
//     %%EOF) except exactly the hex string of /Contents, which must lie in
//     the signature dictionary of that revision (ISO 32000-2 §12.8.1).
//     This stops signature-wrapping and universal-forgery attacks that
//     tools hashing "whatever ByteRange says" accept.
//   - The CMS SignedData (RFC 5652): messageDigest over the ranges,
//     contentType, and the signature over the signed attributes with RSA
//     PKCS#1 v1.5, RSASSA-PSS (RFC 4056), ECDSA, or SM2 with SM3
//     (GB/T 35275, GB/T 38540), digests SHA-256/384/512 and SM3; SHA-1 is
//     INDETERMINATE (crypto constraints).
//   - The RFC 3161 signature timestamp (imprint over the signature value,
//     TSA certificate with the timeStamping EKU chaining to the roots, its
//     revocation) as proof of existence; document timestamps
//     (ETSI.RFC3161) the same way over their byte range.
//   - The signer's certificate at the best signature time, the chain to
//     Options.Roots, and revocation from the embedded data only (CMS crls,
//     adbe-revocationInfoArchival, the DSS): missing data is
//     INDETERMINATE/TRY_LATER, never a guess.
//   - Every incremental update after the signature, object by object,
//     classified (signature, timestamp, validation data, form fill,
//     annotation, metadata, other) and judged against DocMDP and FieldMDP
//     (ISO 32000-2 §12.8.2).
//
// Parsing uses the bounded reader in internal/cos rather than
// digitorus/pdf, which panics on malformed input and has unbounded
// recursion and allocation (see that package's documentation). Hostile
// input ends in ErrNotPDF, ErrTooLarge or ErrDeadline, or in an
// INDETERMINATE report.
//
// Specs: ISO 32000-2:2020 §7 and §12.8; ETSI EN 319 102-1 v1.3.1;
// ETSI EN 319 142-1 (PAdES); RFC 5652; RFC 3161; RFC 5280; RFC 6960;
// RFC 6962 (ledger inclusion proofs); C2SP signed-note and tlog-checkpoint.
package verify
