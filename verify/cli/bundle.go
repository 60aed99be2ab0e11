package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"golang.org/x/mod/sumdb/note"
	"io"
	"os"
	"strings"

	"github.com/cunzheng/cunzheng/ledger/tlogfmt"
	"github.com/cunzheng/cunzheng/verify"
)

// bundleFailure is a failed bundle check, with its exit status.
type bundleFailure struct{ err error }

func (e *bundleFailure) Error() string { return e.err.Error() }
func (e *bundleFailure) Unwrap() error { return e.err }
func (e *bundleFailure) ExitCode() int { return ExitBundleFailed }

// keyList collects a repeatable flag.
type keyList []string

func (k *keyList) String() string     { return strings.Join(*k, ",") }
func (k *keyList) Set(s string) error { *k = append(*k, s); return nil }

// maxBundleRead bounds what is read of a bundle file.
const maxBundleRead = 1 << 30

// Bundle runs `verify bundle` with args (what follows `bundle`): it checks
// an evidence bundle offline, printing each check to out, and fails at the
// first that does not hold, naming what broke.
func Bundle(_ context.Context, prog string, args []string, out io.Writer) error {
	fs := newFlagSet(prog+" bundle", "FILE [--log-key VKEY ...] [--notary-key VKEY ...] [--tsa-roots PEM]\n\n"+
		"Checks an evidence bundle offline: leaf hashes, inclusion and consistency proofs, the log's checkpoint\n"+
		"signatures, the notaries' cosignatures, the RFC 3161 tokens, the opened commitments and every file digest.\n"+
		"Pin the keys from a published source; without them the bundle's own keys are used and the result says so.\n"+
		"Exit status: 0 verified, 3 a check failed, 1 the file could not be read.")
	var logKeys, notaryKeys keyList
	fs.Var(&logKeys, "log-key", "`VKEY` of the log as cunzheng keys prints it, Ed25519 or SM2/SM3 (repeatable); each must have signed")
	fs.Var(&notaryKeys, "notary-key", "`VKEY` of a notary (cosignature/v1) as cunzheng notary keys prints it (repeatable); each must have cosigned")
	tsaRoots := fs.String("tsa-roots", "", "PEM file of trusted TSA roots (default: the bundle's keys/tsa-ca.pem)")
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if file == "" {
		fs.Usage()
		return errors.New("missing bundle FILE")
	}
	opts := verify.BundleOptions{
		Step: func(s verify.BundleStep) {
			fmt.Fprintf(out, "通过 ok    %s  %s: %s\n", stepZH(s.Name), s.Name, s.Detail)
		},
	}
	var err error
	if opts.LogKeys, opts.NotaryKeys, err = ParseBundleKeys(logKeys, notaryKeys); err != nil {
		return err
	}
	if *tsaRoots != "" {
		pem, err := os.ReadFile(*tsaRoots)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no certificate in %s", *tsaRoots)
		}
		opts.TSARoots = pool
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBundleRead+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", file, err)
	}
	if len(data) > maxBundleRead {
		return &bundleFailure{fmt.Errorf("%s is larger than %d bytes", file, maxBundleRead)}
	}
	res, err := verify.Bundle(data, opts)
	if err != nil {
		var be *verify.BundleError
		if errors.As(err, &be) {
			fmt.Fprintf(out, "失败 FAIL  %s  %s: %s\n", stepZH(be.Step), be.Step, problem(be.Err.Error()))
			if r := verify.BundleReason(be.Err); r != nil {
				fmt.Fprintf(out, "原因 Reason: %s\n  %s\n", r.ZH, r.EN)
			}
		}
		return &bundleFailure{fmt.Errorf("bundle does not verify: %w", err)}
	}
	if res.Pinned {
		fmt.Fprintf(out, "结论 PASS  证据包 %[1]s 已用指定的公钥校验通过 evidence bundle %[1]s verified against the pinned keys\n", res.Manifest.ReportNumber)
	} else {
		fmt.Fprintf(out, "结论 PASS  证据包 %[1]s 自身一致，但未指定公钥（请用 --log-key 和 --notary-key 指定公布的公钥） evidence bundle %[1]s is self-consistent; keys were NOT pinned (use --log-key and --notary-key)\n", res.Manifest.ReportNumber)
	}
	return nil
}

// stepZH names a bundle check in Chinese, its event kinds as the page
// names them.
func stepZH(step string) string {
	return verify.BundleStepZH(step, func(k string) string { zh, _ := verify.KindWords(k); return zh })
}

// ParseBundleKeys parses verify bundle's --log-key values (the log's keys
// as cunzheng keys prints them) and --notary-key values (cosignature keys
// as cunzheng notary keys prints them).
func ParseBundleKeys(logKeys, notaryKeys []string) (logs, notaries []note.Verifier, err error) {
	for _, k := range logKeys {
		v, err := tlogfmt.NewVerifier(k)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-key: %w", err)
		}
		logs = append(logs, v)
	}
	for _, k := range notaryKeys {
		v, err := tlogfmt.NewCosignatureVerifier(k)
		if err != nil {
			return nil, nil, fmt.Errorf("--notary-key: %w", err)
		}
		notaries = append(notaries, v)
	}
	return logs, notaries, nil
}
