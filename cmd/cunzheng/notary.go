package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/notary"
	"github.com/cunzheng/cunzheng/notary/client"
	"github.com/cunzheng/cunzheng/notary/notarize"
	"github.com/cunzheng/cunzheng/web"
)

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(s string) error { *r = append(*r, s); return nil }

// Paths of a notary office inside a data directory; the same in a
// standalone office (cunzheng notary) and in cunzheng serve's built-in one.
func notaryStoreDir(data string) string { return filepath.Join(data, "notary") }
func notaryKeyFile(data string) string  { return filepath.Join(data, "keys", "notary.key") }
func notaryTSADir(data string) string   { return filepath.Join(data, "keys") }

// builtinTSAName names serve's built-in TSA in its certificates.
const builtinTSAName = "cunzheng built-in"

// notaryStaffFile is a standalone office's staff file (notary.AddStaff):
// who may read its requests in full.
func notaryStaffFile(data string) string { return filepath.Join(data, "keys", "staff") }

// runNotary runs a standalone notary office (公证处): a C2SP tlog-witness
// cosigner, RFC 3161 TSA and, with --pull, a mirror of the log's leaf hashes.
func runNotary(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "keys" {
		return runNotaryKeys(args[1:])
	}
	if len(args) > 0 && args[0] == "alarms" {
		return runNotaryAlarms(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "issue" {
		return runNotaryIssue(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "staff" {
		return runNotaryStaff(args[1:])
	}
	fs := newFlagSet("notary", "notary --data DIR --addr HOST:PORT --log VKEY [--log VKEY ...] [--pull URL ...]\n       cunzheng notary keys --data DIR [--tsa-ca]\n       cunzheng notary alarms ack ID --data DIR [--by NAME]\n       cunzheng notary issue REQUEST --data DIR --notary-name NAME\n       cunzheng notary staff add|remove NAME --data DIR")
	var logs, pulls repeated
	data := fs.String("data", "./notary-data", "data directory (store in DIR/notary, keys in DIR/keys, made on first start)")
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	name := fs.String("name", notary.DefaultName, "key name of a new office (an existing key keeps its name)")
	fs.Var(&logs, "log", "verifier key of a log to cosign, `VKEY` or ORIGIN=VKEY (repeatable; the key name is the origin by default)")
	fs.Var(&pulls, "pull", "tlog-tiles `URL` of a log to mirror: poll its /checkpoint and tiles, keep every leaf hash (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(logs) == 0 {
		return errors.New("at least one --log VKEY is required")
	}
	var keys []notary.LogKey
	for _, s := range logs {
		k, err := notary.ParseLogKey(s)
		if err != nil {
			return fmt.Errorf("--log: %w", err)
		}
		keys = append(keys, k)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	office, tsa, err := openOffice(ctx, *data, *name, keys, logger, reg)
	if err != nil {
		return err
	}
	defer func() {
		if err := office.Close(); err != nil {
			logger.Error("closing notary store", "err", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "cunzheng notary: key %s\n", office.VerifierKey())

	// The pull loops stop (cancel, then Wait) before the deferred Close.
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, u := range pulls {
		wg.Go(func() {
			if err := office.Pull(pctx, notary.PullConfig{URL: u}); err != nil {
				logger.Error("pull mode stopped", "url", u, "err", err)
			}
		})
	}
	err = listenAndServe(ctx, *addr, web.NotaryHandler(office, tsa, logger, reg), logger)
	cancel()
	wg.Wait()
	return err
}

// openOffice opens the office's store in DIR/notary with its key and TSA
// certificates in DIR/keys, all made on first start (0600) and reused.
func openOffice(ctx context.Context, data, name string, keys []notary.LogKey, logger *slog.Logger, reg prometheus.Registerer) (*notary.Office, *notary.TSA, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating data directory: %w", err)
	}
	skey, err := notary.LoadOrCreateKey(notaryKeyFile(data), name)
	if err != nil {
		return nil, nil, err
	}
	tsa, err := notary.LoadOrCreateTSA(notaryTSADir(data), name)
	if err != nil {
		return nil, nil, err
	}
	office, err := notary.Open(ctx, notary.Config{Dir: notaryStoreDir(data), Key: skey, Logs: keys,
		Logger: logger.With("component", "notary"), Registry: reg, StaffFile: notaryStaffFile(data)})
	if err != nil {
		return nil, nil, err
	}
	return office, tsa, nil
}

// runNotaryKeys prints the office's cosignature verifier key (or, with
// --tsa-ca, its TSA root certificate), making the keys if they do not exist.
func runNotaryKeys(args []string) error {
	fs := newFlagSet("notary keys", "notary keys --data DIR [--tsa-ca | --signing-ca] [--cert FILE --key FILE]")
	data := fs.String("data", "./notary-data", "data directory of the office")
	name := fs.String("name", notary.DefaultName, "key name of a new office")
	ca := fs.Bool("tsa-ca", false, "print the TSA root certificate (PEM) instead of the verifier key")
	signingCA := fs.Bool("signing-ca", false, "print the root certificate (PEM) of the office's document-signing certificate, which signs its 公证书, instead of the verifier key")
	certFile := fs.String("cert", "", "the office's CA-issued document-signing certificate (PEM chain); without --cert/--key a self-signed one is made in DIR/keys")
	keyFile := fs.String("key", "", "PEM private key of --cert")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ca {
		tsa, err := notary.LoadOrCreateTSA(notaryTSADir(*data), *name)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(tsa.CACertPEM())
		return err
	}
	skey, err := notary.LoadOrCreateKey(notaryKeyFile(*data), *name)
	if err != nil {
		return err
	}
	vkey, err := notary.VerifierKey(skey)
	if err != nil {
		return err
	}
	signer, err := officeSigner(*data, vkey[:strings.IndexByte(vkey, '+')], *certFile, *keyFile)
	if err != nil {
		return fmt.Errorf("the office's signing certificate: %w", err)
	}
	if *signingCA {
		root := signer.Cert
		if len(signer.Chain) > 0 {
			root = signer.Chain[len(signer.Chain)-1]
		}
		return pem.Encode(os.Stdout, &pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})
	}
	fmt.Println(vkey)
	return nil
}

// runNotaryAlarms runs `notary alarms ack ID --data DIR [--by NAME]`: it
// records an operator's acknowledgement of an alarm in the office's store
// (the office must be stopped: its store is locked while it runs). The
// alarm and its evidence are kept; the office's pages show it as
// acknowledged, no longer red.
func runNotaryAlarms(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "ack" {
		return errors.New("usage: cunzheng notary alarms ack ID --data DIR [--by NAME]")
	}
	args = args[1:]
	fs := newFlagSet("notary alarms ack", "notary alarms ack ID --data DIR [--by NAME]")
	data := fs.String("data", "./notary-data", "data directory of the office")
	by := fs.String("by", "", "who acknowledges (kept with the acknowledgement)")
	id, err := parseWithID(fs, args, "usage: cunzheng notary alarms ack ID --data DIR [--by NAME]")
	if err != nil {
		return err
	}
	seq, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return fmt.Errorf("alarm ID %q: must be the decimal number shown on /alarms", id)
	}
	if _, err := os.Stat(notaryStoreDir(*data)); err != nil {
		return fmt.Errorf("no office store in %s: %w", *data, err)
	}
	ack, already, err := notary.AcknowledgeInStore(ctx, notaryStoreDir(*data), seq, *by, nil)
	if err != nil {
		return err
	}
	if already {
		fmt.Printf("alarm %d was already acknowledged at %s\n", seq, ack.Time.Format(time.RFC3339))
		return nil
	}
	fmt.Printf("alarm %d acknowledged at %s (the alarm and its evidence are kept)\n", seq, ack.Time.Format(time.RFC3339))
	return nil
}

// runNotaryStaff runs `notary staff add NAME --data DIR` (prints a new
// token for NAME, once) and `notary staff remove NAME --data DIR`. The
// office reads its staff file at every sign-in: no restart is needed.
func runNotaryStaff(args []string) error {
	const usage = "usage: cunzheng notary staff add|remove NAME --data DIR"
	if len(args) == 0 || args[0] != "add" && args[0] != "remove" {
		return errors.New(usage)
	}
	verb := args[0]
	fs := newFlagSet("notary staff "+verb, "notary staff "+verb+" NAME --data DIR")
	data := fs.String("data", "./notary-data", "data directory of the office")
	name, err := parseWithID(fs, args[1:], usage)
	if err != nil {
		return err
	}
	if _, err := os.Stat(notaryKeyFile(*data)); err != nil {
		return fmt.Errorf("no office in %s (make it with cunzheng notary keys --data %s): %w", *data, *data, err)
	}
	if verb == "remove" {
		ok, err := notary.RemoveStaff(notaryStaffFile(*data), name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%q is not on the office's staff", name)
		}
		fmt.Printf("%s removed from the office's staff: their token no longer signs in\n", name)
		return nil
	}
	token, err := notary.AddStaff(notaryStaffFile(*data), name)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s may now sign in to the office's /staff/requests with this token (shown once, stored only as its SHA-256; add %s again for a new one):\n", name, name)
	fmt.Println(token)
	return nil
}

// notarizeFlags are cunzheng serve's flags for the log side of notarization.
type notarizeFlags struct {
	notaries repeated
	fetch    repeated
	tsas     repeated
	tsaRoots string
	policy   string
	// poll is how often the offices are asked about open notarisation
	// requests (notarize.Service.Poll).
	poll time.Duration
	// maxBackoff overrides client.DefaultMaxBackoff (tests).
	maxBackoff time.Duration
}

// addNotarizeFlags registers --notary, --notary-fetch, --tsa, --tsa-roots,
// --notary-policy and --notary-poll on serve's flag set.
func addNotarizeFlags(fs *flag.FlagSet) *notarizeFlags {
	f := &notarizeFlags{}
	fs.Var(&f.notaries, "notary", "notary office `URL=VKEY` to push checkpoints to (repeatable; none: a built-in office in DIR/notary)")
	fs.Var(&f.fetch, "notary-fetch", "notary office `URL=VKEY` that pulls the log itself (cunzheng notary --pull): fetch its cosignatures from URL/v1/logs (repeatable)")
	fs.Var(&f.tsas, "tsa", "RFC 3161 time-stamping authority `URL` (repeatable; none: the built-in TSA)")
	fs.StringVar(&f.tsaRoots, "tsa-roots", "", "PEM `file` of root certificates the --tsa tokens must chain to")
	fs.StringVar(&f.policy, "notary-policy", "", "C2SP tlog-policy quorum `file` (default: every notary must cosign)")
	fs.DurationVar(&f.poll, "notary-poll", notarize.DefaultPollInterval, "how often to ask the notary offices about notarisation requests without an answer")
	return f
}

// notarization is the log side of cunzheng serve: the pusher and, when no
// notary or TSA is configured, the built-in office and TSA (own keys, own
// store, in the same process).
type notarization struct {
	Pusher *client.Pusher
	Office *notary.Office // built-in office, or nil
	TSA    *notary.TSA    // built-in TSA, or nil
	// NotaryKeys are the verifier keys of every office, for reports.
	NotaryKeys []string
	// floor is client.Ledger.Floor: see runWhileLeading.
	floor atomic.Uint64
	// TSAURLs are the configured authorities; empty means the built-in one.
	TSAURLs []string
	// builtinURL is where the built-in office and TSA answer on loopback,
	// served by builtinServer (serveBuiltin); builtinTSAURL is the TSA's
	// URL there, for the pusher and the report signer alike.
	builtinURL    string
	builtinTSAURL string
	builtinServer *http.Server
	// TSARoots are the DER roots the tokens chain to.
	TSARoots [][]byte
}

// ReportTSAURL is the authority the report signer asks for signature
// timestamps: the first configured one, or the built-in one on loopback.
func (n *notarization) ReportTSAURL() string {
	if len(n.TSAURLs) > 0 {
		return n.TSAURLs[0]
	}
	return n.builtinTSAURL
}

// BuiltinOfficeURL is where the log sends notarisation requests to the
// built-in office, on loopback; "" without one.
func (n *notarization) BuiltinOfficeURL() string {
	if n.Office == nil {
		return ""
	}
	return n.builtinURL
}

// serveBuiltin serves the in-process office and TSA (those not nil) on a
// loopback port of their own, as a standalone office serves them (the
// tlog-witness and RFC 3161 endpoints, the office's pages and its
// notarisation requests). It is the one path to them over HTTP: the
// pusher stamps checkpoints there with the checks it applies to any TSA;
// the report signer (pdfsign), which posts its query with a default HTTP
// client to a URL, stamps signatures there; and the log sends its
// notarisation requests there and reads the 公证书 back, as from a partner
// office. The public listener would not do: it fails whenever that is
// HTTPS with a certificate the machine does not trust (a self-signed one,
// say) or is bound to an address that does not route back to this host.
func (n *notarization) serveBuiltin(logger *slog.Logger) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the built-in office and TSA: %w", err)
	}
	n.builtinServer = &http.Server{
		Handler:           web.NotaryHandler(n.Office, n.TSA, logger.With("component", "builtin-loopback"), nil),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	go func() {
		if err := n.builtinServer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("built-in office and TSA loopback server stopped", "err", err)
		}
	}()
	n.builtinURL = "http://" + ln.Addr().String()
	if n.TSA != nil {
		n.builtinTSAURL = n.builtinURL + "/timestamp"
	}
	return nil
}

// Close stops the built-in office's and TSA's server and closes the
// built-in office's store.
func (n *notarization) Close() error {
	if n.builtinServer != nil {
		n.builtinServer.Close()
	}
	if n.Office != nil {
		return n.Office.Close()
	}
	return nil
}

// setupNotarization builds the pusher for serve from its flags. With no
// --notary it opens the built-in office (DIR/notary, key DIR/keys/notary.key)
// trusting the log's own Ed25519 key; with no --tsa it uses the built-in TSA
// (DIR/keys/tsa*.pem). The caller runs Pusher.Run(ctx) in a goroutine and
// Closes the result after it returns.
func setupNotarization(ctx context.Context, data string, l *ledger.Log, keys *ledger.Keys, f *notarizeFlags, logger *slog.Logger, reg prometheus.Registerer) (*notarization, error) {
	n := &notarization{}
	cfg := client.PusherConfig{Log: client.Ledger{Log: l, Floor: &n.floor}, Logger: logger.With("component", "notarize"), Registry: reg, MaxBackoff: f.maxBackoff}
	for _, s := range f.notaries {
		nt, err := client.ParseOffice(s)
		if err != nil {
			return nil, err
		}
		cfg.Offices = append(cfg.Offices, nt)
	}
	for _, s := range f.fetch {
		nt, err := client.ParseOffice(s)
		if err != nil {
			return nil, err
		}
		nt.Fetch = true
		cfg.Offices = append(cfg.Offices, nt)
	}
	if f.policy != "" {
		b, err := os.ReadFile(f.policy)
		if err != nil {
			return nil, fmt.Errorf("reading notary policy: %w", err)
		}
		cfg.Policy = string(b)
	}
	var roots *x509.CertPool
	if f.tsaRoots != "" {
		b, err := os.ReadFile(f.tsaRoots)
		if err != nil {
			return nil, fmt.Errorf("reading TSA roots: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s holds no PEM certificate", f.tsaRoots)
		}
		n.TSARoots = pemCertificates(b)
	}
	for _, u := range f.tsas {
		cfg.TSAs = append(cfg.TSAs, client.TSA{URL: u, Roots: roots})
	}
	if len(cfg.Offices) == 0 {
		var err error
		n.Office, err = notary.OpenBuiltin(ctx, notary.Config{Dir: notaryStoreDir(data), Logger: logger.With("component", "notary"), Registry: reg},
			notaryKeyFile(data), l.Origin(), keys.VerifierKeys()[0])
		if err != nil {
			return nil, err
		}
		cfg.Offices = []client.Office{{Local: n.Office, VKey: n.Office.VerifierKey()}}
	}
	if len(cfg.TSAs) == 0 {
		tsa, err := notary.LoadOrCreateTSA(notaryTSADir(data), builtinTSAName)
		if err != nil {
			n.Close()
			return nil, err
		}
		n.TSA = tsa
	}
	if n.Office != nil || n.TSA != nil {
		if err := n.serveBuiltin(logger); err != nil {
			n.Close()
			return nil, err
		}
	}
	if n.TSA != nil {
		cfg.TSAs = []client.TSA{{URL: n.builtinTSAURL, Name: "built-in", Roots: n.TSA.Roots()}}
	}
	for _, nt := range cfg.Offices {
		n.NotaryKeys = append(n.NotaryKeys, nt.VKey)
	}
	n.TSAURLs = f.tsas
	if n.TSA != nil {
		n.TSARoots = append(n.TSARoots, pemCertificates(n.TSA.CACertPEM())...)
	}
	p, err := client.NewPusher(cfg)
	if err != nil {
		n.Close()
		return nil, err
	}
	n.Pusher = p
	return n, nil
}

// pemCertificates returns the DER bytes of every CERTIFICATE block.
func pemCertificates(b []byte) [][]byte {
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		if blk.Type == "CERTIFICATE" {
			out = append(out, blk.Bytes)
		}
	}
}

// parseWithID parses args with fs around exactly one positional ID, which
// may come before the flags (as the usage lines show it) or after them.
func parseWithID(fs *flag.FlagSet, args []string, usage string) (string, error) {
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	rest := fs.Args()
	if id == "" && len(rest) > 0 {
		id, rest = rest[0], rest[1:]
	}
	if id == "" || len(rest) != 0 {
		return "", errors.New(usage)
	}
	return id, nil
}
