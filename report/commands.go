package report

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
)

// Files of the bundle that the printed commands name. The README and the
// evidence report print the same commands (verifySteps), so a reader who
// copies them from either finds every file they name.
const (
	bundleTSARoots     = "keys/tsa-ca.pem"
	bundleTSAUntrusted = "keys/tsa-untrusted.pem"
	bundleDirDefault   = "evidence-bundle"
	// BundleFileDefault is the file name the evidence report tells a reader
	// to save the bundle under before running its commands.
	BundleFileDefault = "evidence-bundle.zip"
)

// tsaPEM splits the configured TSA certificates into trust roots (self-
// signed) and the others (intermediates, or a TSA certificate that tokens
// do not embed), each as one PEM file: openssl's -CAfile and -untrusted.
func tsaPEM(keys Keys) (roots, untrusted []byte, err error) {
	for _, der := range keys.TSACert {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: TSA certificate: %w", ErrEvidence, err)
		}
		blk := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil {
			roots = append(roots, blk...)
		} else {
			untrusted = append(untrusted, blk...)
		}
	}
	return roots, untrusted, nil
}

// verifySteps returns the shell commands that check a bundle saved as
// bundleFile with standard tools, run in order from the directory holding
// it: our verifier with the keys pinned, then, inside the unpacked bundle,
// OpenSSL on every RFC 3161 token of its checkpoints and pdfsig on
// every PDF. Continuation lines end in " \"; no line may be wrapped when
// printed (doc.code keeps each on one line). splitCommands cuts the lines
// into commands.
func verifySteps(c *Contract, bundleFile string, pdfs []string) ([]string, error) {
	roots, untrusted, err := tsaPEM(c.Keys)
	if err != nil {
		return nil, err
	}
	cmd := []string{"cunzheng verify bundle " + bundleFile + " \\"}
	for _, k := range c.Keys.Log {
		cmd = append(cmd, "    --log-key '"+k+"' \\")
	}
	for _, k := range c.Keys.Notary {
		cmd = append(cmd, "    --notary-key '"+k+"' \\")
	}
	cmd[len(cmd)-1] = strings.TrimSuffix(cmd[len(cmd)-1], " \\")
	dir := strings.TrimSuffix(bundleFile, ".zip")
	if dir == bundleFile {
		dir = bundleDirDefault
	}
	cmd = append(cmd, fmt.Sprintf("unzip -o -q %s -d %s && cd %s", bundleFile, dir, dir))
	if len(roots) > 0 {
		// Every token of every checkpoint in the bundle, whichever
		// checkpoint a separately downloaded report stands on.
		verify := `    -CAfile ` + bundleTSARoots
		if len(untrusted) > 0 {
			verify += " -untrusted " + bundleTSAUntrusted
		}
		cmd = append(cmd, "for t in checkpoints/*.tst.*; do",
			`  openssl ts -verify -data "${t%.tst.*}.note.signed" -in "$t" -token_in \`,
			verify,
			"done")
	}
	for _, p := range pdfs {
		cmd = append(cmd, "pdfsig "+p)
	}
	return cmd, nil
}

// splitCommands groups the lines of verifySteps into commands: a line
// ending in a backslash continues, a for loop runs to its done.
func splitCommands(lines []string) [][]string {
	var out [][]string
	var cur []string
	loop := false
	for _, l := range lines {
		cur = append(cur, l)
		switch {
		case strings.HasPrefix(l, "for "):
			loop = true
			continue
		case loop && l != "done":
			continue
		case strings.HasSuffix(l, "\\"):
			continue
		}
		loop = false
		out = append(out, cur)
		cur = nil
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
