// Package web is cunzheng's HTTP face: the gin router, the C2SP tlog-tiles
// read endpoints, the JSON API, the HTML pages and operational endpoints.
// It only wires requests to the domain packages; no domain logic lives here.
package web

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cunzheng/cunzheng/ledger"
)

// Config holds what the server serves. Log is required; the rest is optional
// and its routes are absent when nil.
type Config struct {
	// Log is the ledger served at /checkpoint, /tile/ and /v1/log/.
	Log *ledger.Log
	// Logger receives access logs (method, route pattern, status, duration;
	// never query strings or bodies, which may hold personal data).
	Logger *slog.Logger
	// Gatherer is exposed at /metrics, to loopback clients only (a request
	// from elsewhere, or forwarded by a proxy, gets 403): serve
	// --metrics-addr serves MetricsHandler on a listener of its own
	// instead and leaves this nil. The default exposes nothing.
	Gatherer prometheus.Gatherer
	// Health lists the stores /healthz reports on besides the ledger
	// (Log), each by name.
	Health []HealthCheck
	// Registerer registers the web metrics. The default registers none.
	Registerer prometheus.Registerer
	// Mounts add further routes (evidence, notary, reports, verification),
	// each given the root router.
	Mounts []Mount
	// NotaryAlarms, when set, lists the notary offices with their alarms
	// (NotariesPage.NotaryAlarms): the home page shows an unacknowledged
	// fork alarm in red. The default shows none.
	NotaryAlarms func(context.Context) ([]OfficeRow, error)
	// TrustedProxies are the reverse proxies whose X-Forwarded-For gives
	// the client address the rate limits key on. The default trusts none.
	TrustedProxies TrustedProxies
}

// Mount adds one part's routes to a router. Every part of the site is
// served by a MountX function taking what the part needs and returning its
// Mount, so that cmd/cunzheng wires the pages without importing gin.
type Mount func(r gin.IRouter)

// Server is the HTTP handler of cunzheng serve.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	engine  *gin.Engine
	metrics *webMetrics
	bundles *tileCache // the log routes' compressed entry bundles
}

// New builds the server's routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{cfg: cfg, logger: cfg.Logger, engine: gin.New(), metrics: newWebMetrics(cfg.Registerer)}
	e := s.engine
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	// Route on the escaped path, so that an id holding "/" (a contract
	// number "HT/2026/001", an account "dept/acct-1"), sent as %2F, stays
	// one path segment: ids like these are accepted at ingest, and a data
	// subject must always be erasable. gin's own unescaping uses
	// url.QueryUnescape, which turns "+" into a space (phone numbers such
	// as "+8613800000000" are accounts), so unescapeParams does it instead.
	e.UseRawPath = true
	e.UnescapePathValues = false
	e.Use(unescapeParams, clientAddrs(cfg.TrustedProxies), s.recoverPanics, s.accessLog, securityHeaders)
	e.NoRoute(func(c *gin.Context) { abortWithError(c, s.logger, notFound("no such resource")) })
	e.NoMethod(func(c *gin.Context) {
		abortWithError(c, s.logger, &httpError{http.StatusMethodNotAllowed, "method not allowed"})
	})

	e.GET("/healthz", s.serveHealth)
	if cfg.Gatherer != nil {
		h := MetricsHandler(cfg.Gatherer)
		e.GET("/metrics", func(c *gin.Context) {
			if !fromLoopback(c.Request) {
				abortWithError(c, s.logger, &httpError{http.StatusForbidden,
					"指标仅对本机开放 / metrics are served to loopback clients only (see serve --metrics-addr)"})
				return
			}
			h.ServeHTTP(c.Writer, c.Request)
		})
	}
	mountStatic(e)
	if cfg.Log != nil {
		s.bundles = mountLog(e, cfg.Log, s.logger).bundles
		mountLogPages(e, cfg.Log, cfg.NotaryAlarms, s.logger)
	}
	for _, m := range cfg.Mounts {
		m(e)
	}
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// HealthCheck is one store /healthz reports on: Check returns nil while it
// takes writes.
type HealthCheck struct {
	Name  string
	Check func() error
}

// MetricsHandler serves the Prometheus metrics of g.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// fromLoopback reports whether r comes from this host and not through a
// proxy on it (which would make every client look local).
func fromLoopback(r *http.Request) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" || r.Header.Get("X-Real-Ip") != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// serveHealth answers 200 "ok" while every store takes writes, else 503
// with one line per store saying which is degraded and why, in plain words
// (no file names): reads, proofs and verification go on meanwhile.
func (s *Server) serveHealth(c *gin.Context) {
	checks := s.cfg.Health
	if s.cfg.Log != nil {
		checks = append([]HealthCheck{{Name: "ledger", Check: s.cfg.Log.Healthy}}, checks...)
	}
	var lines []string
	degraded := false
	for _, hc := range checks {
		if err := hc.Check(); err != nil {
			degraded = true
			lines = append(lines, hc.Name+": degraded: "+storageReason(err)+"; reads work")
		} else {
			lines = append(lines, hc.Name+": ok")
		}
	}
	if !degraded {
		c.String(http.StatusOK, "ok\n%s", joinLines(lines))
		return
	}
	c.String(http.StatusServiceUnavailable, "degraded\n%s", joinLines(lines))
}

func joinLines(lines []string) string {
	out := ""
	for _, l := range lines {
		out += l + "\n"
	}
	return out
}

// unescapeParams decodes the path parameters of a request routed on its
// raw path (see New). When the request has no raw path, gin routed on the
// decoded path and the parameters are already plain.
func unescapeParams(c *gin.Context) {
	if c.Request.URL.RawPath == "" {
		return
	}
	for i, p := range c.Params {
		if v, err := url.PathUnescape(p.Value); err == nil {
			c.Params[i].Value = v
		}
	}
}

// recoverPanics turns a handler panic into a 500 and a log line; a panic is
// a bug, never an answer to input, but one request must not take the
// process down.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("handler panic", "route", c.FullPath(), "panic", r)
			if !c.Writer.Written() {
				c.AbortWithStatus(http.StatusInternalServerError)
			}
		}
	}()
	c.Next()
}

func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	d := time.Since(start)
	s.metrics.requests.WithLabelValues(route, c.Request.Method, http.StatusText(c.Writer.Status())).Inc()
	s.metrics.seconds.WithLabelValues(route).Observe(d.Seconds())
	s.logger.LogAttrs(c.Request.Context(), slog.LevelInfo, "http",
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", d),
		slog.Int("bytes", c.Writer.Size()),
	)
}

type webMetrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

func newWebMetrics(reg prometheus.Registerer) *webMetrics {
	m := &webMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cunzheng_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cunzheng_http_request_seconds", Help: "HTTP request duration by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.seconds)
	}
	return m
}
