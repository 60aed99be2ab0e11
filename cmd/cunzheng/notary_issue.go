package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/notary/client"
	"github.com/cunzheng/cunzheng/notary/notarize"
	"github.com/cunzheng/cunzheng/report"
)

// officeSigner returns the office's document signer: the certificate and
// key given, or its own demo CA and certificate in officeSigningDir, made
// on first use (report.DemoSigner). Offices outside a demo configure a
// CA-issued certificate with --cert and --key.
func officeSigner(data, name, certFile, keyFile string) (*report.DocSigner, error) {
	switch {
	case certFile != "" && keyFile != "":
		return report.LoadSigner(certFile, keyFile)
	case certFile != "" || keyFile != "":
		return nil, errors.New("give both --cert and --key, or neither")
	}
	return report.DemoSigner(officeSigningDir(data), name, time.Now())
}

// isLogData reports whether data is a log's data directory (cunzheng
// serve's, with DIR/ledger), whose office is the built-in one.
func isLogData(data string) bool {
	_, err := os.Stat(filepath.Join(data, "ledger"))
	return err == nil
}

// officeSigningDir is where an office keeps its demo document-signing CA
// and certificate: DIR/keys for a standalone office; DIR/keys/office for
// the office built into cunzheng serve (DIR is then the log's data
// directory, with DIR/ledger), whose DIR/keys holds the platform's own
// report-signing certificate under the same file names. The platform's
// certificate must not sign the office's 公证书: the office is another
// party, and a legal team trusts its CA for its certificates alone.
func officeSigningDir(data string) string {
	if isLogData(data) {
		return filepath.Join(notaryTSADir(data), "office")
	}
	return notaryTSADir(data)
}

// runNotaryIssue runs `notary issue REQUEST --data DIR --notary-name NAME`:
// it renders the 公证书 of a verified request, signs it with the office's
// certificate and keeps it in the office's store (the office must be
// stopped: its store is locked while it runs), where the office's pages
// serve it. A request the office refused is not issued: the command says
// why and exits non-zero.
func runNotaryIssue(ctx context.Context, args []string) error {
	const usage = "usage: cunzheng notary issue REQUEST --data DIR --notary-name NAME [--cert FILE --key FILE] [--out FILE]"
	fs := newFlagSet("notary issue", "notary issue REQUEST --data DIR --notary-name NAME [--cert FILE --key FILE] [--out FILE]")
	data := fs.String("data", "./notary-data", "data directory of the office")
	notaryName := fs.String("notary-name", "", "the notary who issues, printed on the certificate (required)")
	certFile := fs.String("cert", "", "PEM certificate chain of the office (signing certificate first); default: the office's own, made by notary keys")
	keyFile := fs.String("key", "", "PEM private key of --cert")
	out := fs.String("out", "", "also write the signed PDF to this file")
	id, err := parseWithID(fs, args, usage)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*notaryName) == "" {
		return errors.New("--notary-name is required: the notary who issues the certificate")
	}
	skey, err := os.ReadFile(notaryKeyFile(*data))
	if err != nil {
		return fmt.Errorf("no office key in %s: %w", *data, err)
	}
	vkey, err := notary.VerifierKey(strings.TrimSpace(string(skey)))
	if err != nil {
		return err
	}
	officeName := vkey[:strings.IndexByte(vkey, '+')]
	signer, err := officeSigner(*data, officeName, *certFile, *keyFile)
	if err != nil {
		return fmt.Errorf("the office's signing certificate: %w", err)
	}
	o, err := notary.OpenStore(notaryStoreDir(*data), nil)
	if err != nil && isLogData(*data) {
		return fmt.Errorf("%w; this is the office built into cunzheng serve, which holds its store: stop the server, issue, then start it again", err)
	} else if err != nil {
		return err
	}
	rec, err := o.Issue(ctx, id, *notaryName, func(rec notary.RequestRecord) ([]byte, error) {
		doc, err := report.RenderNotarial(report.Notarial{
			Number: rec.ID, Office: officeName, Notary: rec.IssuedBy, Origin: rec.Origin, Contract: rec.Contract, ContractNumber: rec.ContractNumber,
			RequestedAt: rec.Time, IssuedAt: rec.IssuedAt, BundleSHA256: rec.BundleSHA256,
			CheckpointSize: rec.CheckpointSize, Events: rec.Events, Checks: rec.Checks,
		})
		if err != nil {
			return nil, err
		}
		return signer.Sign(doc, "公证书 "+rec.ID+" Notarial certificate", rec.IssuedAt)
	})
	var pdf []byte
	if err == nil && *out != "" {
		pdf, err = o.Certificate(ctx, id)
	}
	if cerr := o.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, pdf, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", *out, err)
		}
	}
	if isLogData(*data) {
		fmt.Printf("公证书 issued for request %s: SHA-256 %s (start cunzheng serve again: it records the issue in the log, and the console serves the certificate)\n", id, rec.CertificateSHA256)
	} else {
		fmt.Printf("公证书 issued for request %s: SHA-256 %s (the requesting log fetches it; the office's staff download it at /staff/requests/%s/certificate.pdf)\n", id, rec.CertificateSHA256, id)
	}
	return nil
}

// notarizeService is the log's side of notarisation requests: every office
// of --notary and --notary-fetch may be asked, by its key name, at its URL,
// and the built-in office (serve without --notary) at its loopback URL.
func notarizeService(f *notarizeFlags, a *app, keys *ledger.Keys, reports *report.Service) (*notarize.Service, error) {
	var offices []notarize.Office
	if o := a.notarization.Office; o != nil {
		offices = append(offices, notarize.Office{Name: o.Name(), URL: a.notarization.BuiltinOfficeURL()})
	}
	for _, s := range append(append([]string(nil), f.notaries...), f.fetch...) {
		n, err := client.ParseOffice(s)
		if err != nil {
			return nil, err
		}
		offices = append(offices, notarize.Office{Name: n.VKey[:strings.IndexByte(n.VKey, '+')], URL: n.URL})
	}
	return notarize.New(notarize.Config{Evidence: a.evidence, Reports: reports, Signers: keys.Signers(),
		Origin: a.log.Origin(), Offices: offices,
		Pending: func(ctx context.Context) ([]evidence.OpenNotarization, error) {
			return a.evidence.OpenNotarizations(ctx, a.log.Leaf)
		}})
}
