package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cunzheng/cunzheng/evidence"
	"github.com/cunzheng/cunzheng/evidence/ledgerlog"
	"github.com/cunzheng/cunzheng/ledger"
	"github.com/cunzheng/cunzheng/notary/notarize"
	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/assemble"
	"github.com/cunzheng/cunzheng/verify"
	"github.com/cunzheng/cunzheng/verify/verifymetrics"
	"github.com/cunzheng/cunzheng/web"
	"github.com/cunzheng/cunzheng/web/sessionpg"
)

type serveFlags struct {
	data               string
	addr               string
	origin             string
	checkpointInterval time.Duration
	demo               bool
	trustRoots         string
	maxUpload          int64
	tlsCert, tlsKey    string
	metricsAddr        string
	issuer, issuerSeal string
	publicURL          string
	notarize           *notarizeFlags
	cluster            clusterFlags
}

func runServe(ctx context.Context, args []string) error {
	fs := newFlagSet("serve", "serve [--data DIR] [--addr HOST:PORT] [flags]\n\nRuns the log server: the ledger and its tlog-tiles read API, event ingest,\nnotarization (a built-in notary office and TSA unless --notary/--tsa name\nothers), public PDF verification and the web pages.")
	var f serveFlags
	fs.StringVar(&f.data, "data", "./data", "data directory (created on first start)")
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&f.origin, "origin", "", "checkpoint origin and log key name (default: the stored key's, or "+ledger.DefaultOrigin+" for a new log)")
	fs.DurationVar(&f.checkpointInterval, "checkpoint-interval", ledger.DefaultCheckpointInterval, "most frequent checkpoint publication")
	fs.BoolVar(&f.demo, "demo", false, "create the demo tenant and load the demo contract (idempotent); prints the demo API key")
	fs.StringVar(&f.trustRoots, "trust-roots", "", "directory of PEM trust roots for PDF verification (besides the platform CA and the system roots)")
	fs.Int64Var(&f.maxUpload, "max-upload", web.DefaultVerifyMaxUpload, "largest PDF accepted for verification, in bytes")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS (TLS 1.2+, with HSTS) with this PEM certificate chain; needs --tls-key")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve /metrics on this address only (plain HTTP, e.g. 127.0.0.1:9090); by default /metrics is on --addr and answers loopback clients only")
	fs.StringVar(&f.issuer, "issuer", report.DefaultIssuer, "the legal entity that issues the reports, printed on every page and in the round e-seal drawn from it")
	fs.StringVar(&f.issuerSeal, "issuer-seal", "", "PNG of the issuer's e-seal to use instead of the one drawn from --issuer")
	fs.StringVar(&f.publicURL, "public-url", "", "the URL the public reaches this server at (https://cunzheng.example.com): the QR codes and links of every issued PDF and the printed URLs use it (default: the listen address)")
	f.notarize = addNotarizeFlags(fs)
	addClusterFlags(fs, &f.cluster)
	var proxies web.TrustedProxies
	fs.Var(&proxies, "trusted-proxies", "reverse proxies `CIDR,...` whose X-Forwarded-For gives the client address the rate limits key on (default: none, the connection's address)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	serverRuntime()
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	tlsConfig, err := loadTLS(f.tlsCert, f.tlsKey)
	if err != nil {
		return err
	}
	if f.publicURL, err = checkPublicURL(f.publicURL); err != nil {
		return err
	}
	if err := checkClusterNotary(f.cluster, f.notarize); err != nil {
		return err
	}
	if err := checkClusterKeys(f); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Listen first: the server's own URL is where the built-in TSA answers
	// the report signer, and what the QR codes on reports point to.
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", f.addr, err)
	}
	url := "http://" + ln.Addr().String()
	if tlsConfig != nil {
		ln = httpsListener{tls.NewListener(ln, tlsConfig)}
		url = "https://" + ln.Addr().String()
	}
	var gatherer prometheus.Gatherer = reg
	if f.metricsAddr != "" {
		stopMetrics, err := serveMetrics(f.metricsAddr, reg, logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopMetrics()
		gatherer = nil // not on the main listener at all
	}
	if f.publicURL != "" {
		url = f.publicURL
	}
	a, err := openApp(ctx, f, url, logger, reg)
	if err != nil {
		ln.Close()
		return err
	}
	defer a.close(logger)

	// The pusher runs until shutdown (in cluster mode: while this process
	// holds the integration lease); a slow or dead notary never blocks
	// appends, since it only reads published checkpoints.
	runCtx, stopRun := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		if err := a.notarization.runWhileLeading(runCtx, a.log); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("notarization stopped", "err", err)
		}
	}()
	// The offices are asked about every notarisation request the ledger
	// holds open (at start, then every minute), so that their answers are
	// recorded without a click in the console, also after a restart; in a
	// cluster every process asks, and recording an answer twice records
	// it once.
	if a.notarizer != nil {
		bg.Add(1)
		go func() {
			defer bg.Done()
			a.notarizer.Poll(runCtx, f.notarize.poll, logger.With("component", "notarize"))
		}()
	}
	defer func() { stopRun(); bg.Wait() }()

	health := []web.HealthCheck{{Name: "evidence", Check: a.evidence.Healthy}}
	if o := a.notarization.Office; o != nil {
		health = append(health, web.HealthCheck{Name: "notary", Check: o.Healthy})
	}
	srv := web.New(web.Config{Log: a.log, Logger: logger, Gatherer: gatherer, Registerer: reg, Mounts: a.mounts, Health: health, TrustedProxies: proxies,
		NotaryAlarms: web.NotariesPage{Pusher: a.notarization.Pusher, Office: a.notarization.Office}.NotaryAlarms})
	return serveListener(ctx, ln, srv, logger, func(listenURL string) {
		if f.demo {
			if err := a.loadDemo(ctx, cmp.Or(f.publicURL, listenURL)); err != nil {
				logger.Error("loading the demo contract", "err", err)
			}
		}
	})
}

// serveMetrics serves /metrics of g alone on addr (serve --metrics-addr),
// keeping it off the public listener; the returned func stops it.
func serveMetrics(addr string, g prometheus.Gatherer, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", web.MetricsHandler(g))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "err", err)
		}
	}()
	logger.Info("serving metrics", "addr", ln.Addr().String())
	fmt.Fprintf(os.Stderr, "cunzheng: metrics on http://%s/metrics\n", ln.Addr())
	return func() { hs.Close() }, nil
}

// checkPublicURL checks --public-url: an absolute http or https URL with
// a host and no query or fragment. It returns it without a trailing slash,
// the base every page path is appended to.
func checkPublicURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := neturl.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("--public-url %q: want an absolute http:// or https:// URL with a host and no query, e.g. https://cunzheng.example.com", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// app is everything serve runs, opened in dependency order and closed in
// reverse.
type app struct {
	log          *ledger.Log
	evidence     *evidence.Service
	notarization *notarization
	mounts       []web.Mount
	reports      *report.Service
	notarizer    *notarize.Service // nil without offices to ask for notarisation
	data         string            // the data directory
	// sessions holds the console's sessions in cluster mode.
	sessions *sessionpg.Store
}

// minServerProcs is the fewest Ps (GOMAXPROCS) the server runs with.
// Pebble's WAL writes and fsyncs are blocking system calls, and a goroutine
// in one keeps its P until the runtime hands it off; on a 2-core machine
// the two Ps were often both held so, with requests waiting to run. With 4
// Ps, one event per request from 64 clients went from 2.7-3.0k to 3.6-3.9k
// events/s (four interleaved pairs, p99 58-62 ms to 42-49 ms), and batches
// of 100 gained 2-4% for about 10% more CPU per event. The cost is in
// CPU-bound work on a saturated machine: the ledger benchmark's proof loop
// ran 20-30% slower (70-80k proofs/s instead of 85-110k), its appends the
// same. GOMAXPROCS in the environment overrides this.
const minServerProcs = 4

// serverGCPercent is the server's GOGC. Ingest allocates fast against a
// small live heap (Pebble's memtables and block cache are outside it), so
// with Go's default of 100 the collector ran often, and with 4 Ps on 2
// cores its dedicated worker took a whole P each time. At 200, bench ingest
// (flow mix, 4 clients of 100 events) used 128-169 µs of CPU per event
// instead of 158-208 in interleaved pairs, for about 55 MiB more peak RSS
// (258-266 MiB). GOGC in the environment overrides this.
const serverGCPercent = 200

// serverRuntime raises GOMAXPROCS to minServerProcs and sets GOGC to
// serverGCPercent, each unless the environment sets it.
func serverRuntime() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minServerProcs {
		runtime.GOMAXPROCS(minServerProcs)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
}

// openApp opens every component; url is the server's own base URL.
func openApp(ctx context.Context, f serveFlags, url string, logger *slog.Logger, reg *prometheus.Registry) (a *app, err error) {
	a = &app{}
	// The failure returns set a to nil: close what opened through a copy.
	opened := a
	defer func() {
		if err != nil {
			opened.close(logger)
		}
	}()
	var keys *ledger.Keys
	if a.log, keys, err = openLedgerMode(ctx, f, logger, reg); err != nil {
		return nil, err
	}
	if a.mounts, err = ledgerAppendMounts(f.cluster, a.log, logger); err != nil {
		return nil, err
	}
	master, err := evidence.LoadMasterKey(filepath.Join(f.data, "keys"), os.Getenv)
	if err != nil {
		return nil, err
	}
	evStore, err := openEvidenceStore(ctx, f.cluster)
	if err != nil {
		return nil, err
	}
	blobs, err := documentBlobs(ctx, f.cluster)
	if err != nil {
		return nil, err
	}
	if a.evidence, err = evidence.Open(ctx, evidence.Config{
		Store:      evStore, // nil: Pebble under Dir
		Blobs:      blobs,   // nil: documents in Store
		Dir:        filepath.Join(f.data, "evidence"),
		Master:     master,
		Log:        ledgerlog.New(a.log),
		Logger:     logger.With("component", "evidence"),
		Registerer: reg,
	}); err != nil {
		return nil, err
	}
	if a.notarization, err = setupNotarization(ctx, f.data, a.log, keys, f.notarize, logger, reg); err != nil {
		return nil, err
	}
	verifiers, err := keys.Verifiers()
	if err != nil {
		return nil, err
	}
	reports, err := openReports(f, url, a, keys, logger, reg)
	if err != nil {
		return nil, err
	}
	a.reports, a.data = reports, f.data
	// Verification trusts the platform's document-signing CA and the TSAs'
	// roots besides --trust-roots and the system roots, so the platform's
	// own reports check out.
	var extra []*smx509.Certificate
	signer := reports.Signer()
	for _, der := range append(derOf(signer.Chain), a.notarization.TSARoots...) {
		c, err := smx509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("parsing a platform root: %w", err)
		}
		extra = append(extra, c)
	}
	roots, err := verify.LoadRoots(f.trustRoots, true, extra...)
	if err != nil {
		return nil, err
	}
	// The same roots (but the system's) for the /verify page's local
	// check, signed with the log's Ed25519 key.
	trust, err := trustBundle(f.trustRoots, extra, a.log.Origin(), keys.VerifierKeys(), a.notarization)
	if err != nil {
		return nil, err
	}
	a.mounts = append(a.mounts, web.MountReports(reports, web.RequireTenant(a.evidence, logger, evidence.RoleLegal), logger))
	a.mounts = append(a.mounts, web.MountEvents(a.evidence, logger))
	notarizer, err := notarizeService(f.notarize, a, keys, reports)
	if err != nil {
		return nil, err
	}
	a.notarizer = notarizer
	cc := web.ConsoleConfig{
		Evidence: a.evidence, Log: a.log, Reports: reports, Notarize: notarizer, Logger: logger.With("component", "console"), Registerer: reg,
	}
	if f.cluster.db != "" {
		// Behind a load balancer any process may get a session's next
		// request, and a restart must not sign everyone out.
		if a.sessions, err = sessionpg.Open(ctx, f.cluster.db); err != nil {
			return nil, err
		}
		cc.Sessions = a.sessions
	}
	con := web.NewConsole(cc)
	a.mounts = append(a.mounts, web.MountConsole(con))
	a.mounts = append(a.mounts, web.NotaryMounts(a.notarization.Office, a.notarization.TSA,
		web.NotariesPage{Log: a.log, Pusher: a.notarization.Pusher, Office: a.notarization.Office}, logger)...)
	a.mounts = append(a.mounts, web.MountKeys(web.PublishedKeys{
		Log:           keys.VerifierKeys(),
		Notaries:      a.notarization.NotaryKeys,
		TSA:           a.notarization.TSARoots,
		ReportSigning: derOf(append([]*x509.Certificate{signer.Cert}, signer.Chain...)),
		PublicURL:     f.publicURL,
	}, logger.With("component", "keys")))
	lookup := assemble.Lookup{Evidence: a.evidence, Ledger: a.log}
	a.mounts = append(a.mounts, web.MountVerify(web.VerifyConfig{
		Options: verify.Options{
			Roots:           roots,
			Lookup:          lookup,
			LedgerVerifiers: verifiers,
			LedgerOrigin:    a.log.Origin(),
			Metrics:         verifymetrics.New(reg),
			Logger:          logger.With("component", "verify"),
		},
		MaxUpload:   f.maxUpload,
		Logger:      logger.With("component", "verify"),
		Viewer:      web.TenantViewer(a.evidence, con),
		Reports:     lookup,
		Trust:       trust,
		TrustSigner: keys.Ed25519,
		TrustKey:    keys.VerifierKeys()[0],
	}))
	return a, nil
}

func (a *app) close(logger *slog.Logger) {
	if a.sessions != nil {
		a.sessions.Close()
	}
	if a.notarization != nil {
		if err := a.notarization.Close(); err != nil {
			logger.Error("closing the notary office", "err", err)
		}
	}
	if a.evidence != nil {
		if err := a.evidence.Close(); err != nil {
			logger.Error("closing evidence", "err", err)
		}
	}
	if a.log != nil {
		if err := a.log.Close(); err != nil {
			logger.Error("closing ledger", "err", err)
		}
	}
}

// openReports builds the report service: evidence from the contract index
// and the ledger, PDFs signed with the platform certificate (a demo CA in
// DIR/keys on first start) and timestamped by the first configured TSA or
// the built-in one on loopback.
func openReports(f serveFlags, url string, a *app, keys *ledger.Keys, logger *slog.Logger, reg prometheus.Registerer) (*report.Service, error) {
	src := assemble.New(assemble.Config{Evidence: a.evidence, Ledger: a.log, Keys: report.Keys{
		Log:     keys.VerifierKeys(),
		Notary:  a.notarization.NotaryKeys,
		TSACert: a.notarization.TSARoots,
	}})
	var seal []byte
	if f.issuerSeal != "" {
		b, err := os.ReadFile(f.issuerSeal)
		if err != nil {
			return nil, fmt.Errorf("--issuer-seal: %w", err)
		}
		seal = b
	}
	rs, err := report.New(report.Config{
		Issuer:     f.issuer,
		IssuerSeal: seal,
		Source:     src,
		Custody:    assemble.Custody{Evidence: a.evidence},
		KeyDir:     filepath.Join(f.data, "keys"),
		TSAURL:     a.notarization.ReportTSAURL(),
		VerifyURL:  url + "/verify",
		Logger:     logger.With("component", "report"),
		Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	// The built-in TSA's CRL travels in every signature beside the demo
	// CA's, so the platform's PDFs verify offline, timestamp included.
	if t := a.notarization.TSA; t != nil && len(a.notarization.TSAURLs) == 0 {
		crl, err := t.CRL()
		if err != nil {
			return nil, err
		}
		rs.Signer().CRLs = append(rs.Signer().CRLs, crl)
	}
	return rs, nil
}

func derOf(certs []*x509.Certificate) [][]byte {
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.Raw
	}
	return out
}

// loadDemo creates the demo tenant and contract and prints how to use them.
func (a *app) loadDemo(ctx context.Context, url string) error {
	sentPath, pdfPath, files, err := a.demoContract(ctx)
	if err != nil {
		return err
	}
	d, err := a.evidence.LoadDemo(ctx, files)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(files.Completed)
	fmt.Fprintf(os.Stderr, "\ncunzheng demo: tenant %q, contract %s (%d events in the ledger)\n", d.Tenant.Name, d.ContractID, len(d.Receipts))
	if d.Earlier {
		fmt.Fprintf(os.Stderr, "  this data directory holds the demo an earlier version recorded (its events stand: the log is append-only); start with a fresh --data for the current demo\n")
	} else {
		sent := sha256.Sum256(files.Sent)
		fmt.Fprintf(os.Stderr, "  sent contract PDF (what both signers agreed to): %s (SHA-256 %x)\n", sentPath, sent)
	}
	fmt.Fprintf(os.Stderr, "  signed contract PDF: %s (SHA-256 %x); upload it at %s/verify\n", pdfPath, sum, url)
	fmt.Fprintf(os.Stderr, "  curl -H 'Authorization: Bearer %s' %s/v1/contracts/%s\n", d.APIKey, url, d.ContractID)
	fmt.Fprintf(os.Stderr, "  legal console (sign in with the demo key): %s/console\n", url)
	fmt.Fprintf(os.Stderr, "  verify a PDF at %s/verify, the log at %s/checkpoint, notaries at %s/notaries\n", url, url, url)
	fmt.Fprintf(os.Stderr, "demo API key:\n%s\n", d.APIKey)
	return nil
}

// demoSignedAt is when the demo contract PDF was signed (its timestamp's
// time), which dates the demo's events: the same PDF, kept in the data
// directory, gives the same events on every start.
func demoSignedAt(ctx context.Context, pdf []byte) (time.Time, error) {
	rep, err := verify.PDFBytes(ctx, pdf, verify.Options{})
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the demo contract's signing time: %w", err)
	}
	if rep.LastSigningTime == nil {
		return time.Time{}, fmt.Errorf("the demo contract %s carries no valid signature: delete it to have it made again", demoContractFile)
	}
	return *rep.LastSigningTime, nil
}

// demoContractFile is where the demo's signed contract PDF is kept, and
// demoSentFile the contract as sent to its signers (the signed PDF's first
// revision).
const (
	demoContractFile = "demo-contract.pdf"
	demoSentFile     = "demo-contract-sent.pdf"
)

// demoContract returns the demo's contract as sent and as signed: rendered
// and PAdES-signed with the platform's document signer on the first demo
// start, then kept in the data directory, so that every restart records
// the same documents (the sent one's SHA-256 is in the demo's sending and
// signing events, the signed one's in its completion, and the evidence
// store keeps both as PUT /v1/documents would). A signed PDF kept without
// the sent one is an earlier version's demo: files.Sent is nil.
func (a *app) demoContract(ctx context.Context) (sentPath, path string, files *evidence.DemoFiles, err error) {
	sentPath, path = filepath.Join(a.data, demoSentFile), filepath.Join(a.data, demoContractFile)
	files = &evidence.DemoFiles{}
	files.Completed, err = os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		// The sent document is rendered DemoSentBefore before it is
		// signed, as the demo's events send it, so that no file is
		// dated after the event naming it.
		now := time.Now()
		files.Sent, files.Completed, err = a.reports.DemoContract(ctx, evidence.DemoContractID, now.Add(-evidence.DemoSentBefore), now)
		if err != nil {
			return "", "", nil, err
		}
		// The sent file first: a signed file alone is an earlier
		// version's demo.
		for _, f := range []struct {
			path string
			b    []byte
		}{{sentPath, files.Sent}, {path, files.Completed}} {
			if err := writeFileAtomic(f.path, f.b); err != nil {
				return "", "", nil, fmt.Errorf("writing the demo contract: %w", err)
			}
		}
	} else if err != nil {
		return "", "", nil, fmt.Errorf("reading the demo contract: %w", err)
	} else if files.Sent, err = os.ReadFile(sentPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", "", nil, fmt.Errorf("reading the demo contract as sent: %w", err)
	}
	if files.Sent != nil && !bytes.HasPrefix(files.Completed, files.Sent) {
		return "", "", nil, fmt.Errorf("the demo contract %s is not %s signed: delete both to have them made again", demoContractFile, demoSentFile)
	}
	if files.SignedAt, err = demoSignedAt(ctx, files.Completed); err != nil {
		return "", "", nil, err
	}
	return sentPath, path, files, nil
}

// writeFileAtomic writes b to path through a temporary file and a rename.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// openLedger opens the log in DIR/ledger with keys in DIR/keys, and
// returns the keys too: notarization and reports check against them.
func openLedger(ctx context.Context, data, origin string, interval time.Duration, logger *slog.Logger, reg prometheus.Registerer) (*ledger.Log, *ledger.Keys, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating data directory: %w", err)
	}
	keys, err := ledger.LoadOrCreateKeys(filepath.Join(data, "keys"), origin)
	if err != nil {
		return nil, nil, err
	}
	store, err := ledger.OpenPebbleStore(filepath.Join(data, "ledger"), ledger.PebbleOptions{Logger: logger.With("component", "ledger")})
	if err != nil {
		return nil, nil, err
	}
	l, err := ledger.Open(ctx, ledger.Config{
		Store:              store,
		Origin:             keys.Name(),
		Signers:            keys.Signers(),
		CheckpointInterval: interval,
		Logger:             logger.With("component", "ledger"),
		Registerer:         reg,
	})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return l, keys, nil
}

// listenAndServe listens on addr and serves h (see serveListener).
func listenAndServe(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return serveListener(ctx, ln, h, logger)
}

// serveListener serves h on ln until ctx ends, then shuts down gracefully:
// new connections stop, requests in flight (appends waiting on a commit
// among them) get up to 15 s to finish. ready, if given, runs once serving.
func serveListener(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, ready ...func(url string)) error {
	// A slow client cannot hold a connection: 5 s for the headers, 2 min
	// for a whole body (a 50 MiB PDF upload at ~400 KiB/s) and for writing
	// a response (pages and proofs are small; report downloads extend their
	// own deadline), 1 min idle between keep-alive requests.
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	url := "http://" + ln.Addr().String()
	if _, ok := ln.(httpsListener); ok {
		url = "https://" + ln.Addr().String()
	}
	logger.Info("serving", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	for _, r := range ready {
		r(url)
	}
	// Printed plainly too: tests and newcomers look for the address.
	fmt.Fprintf(os.Stderr, "cunzheng: listening on %s\n", url)
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// httpsListener marks a TLS listener, so the printed URL says https.
type httpsListener struct{ net.Listener }

// loadTLS returns the server TLS configuration of --tls-cert/--tls-key, or
// nil when neither is given. TLS 1.2 is the floor: older versions have no
// AEAD cipher suites and browsers have dropped them.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// trustBundle is what the /verify page's local check trusts: the roots of
// --trust-roots and the platform's own (extra), the log's origin and keys,
// the notaries' keys and the TSA roots.
func trustBundle(dir string, extra []*smx509.Certificate, origin string, logKeys []string, n *notarization) (*verify.TrustBundle, error) {
	roots, err := verify.RootCertificates(dir)
	if err != nil {
		return nil, err
	}
	for _, c := range extra {
		roots = append(roots, c.Raw)
	}
	tb := &verify.TrustBundle{Origin: origin, LogKeys: logKeys, Roots: roots}
	if n != nil {
		tb.NotaryKeys, tb.TSARoots = n.NotaryKeys, n.TSARoots
	}
	return tb, nil
}
