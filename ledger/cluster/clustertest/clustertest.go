// Package clustertest starts the real servers cluster mode runs on, for
// tests: a PostgreSQL server (Debian's binaries, initdb into a temporary
// directory) and an S3 server (versitygw with its posix backend). There are
// no fakes here: a test that needs one of these servers fails, with the
// command that installs the missing tool, when it cannot be started.
//
// Each server listens on a free loopback port and is stopped, and its
// directory removed, by t.Cleanup.
package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
)

// Credentials of the test S3 server. They are only ever valid on a loopback
// server that lives as long as one test.
const (
	AccessKey = "cunzhengtest"
	SecretKey = "cunzhengtest-secret-key"
	Region    = "us-east-1"
)

// Postgres starts a PostgreSQL server for t and returns the DSN of a fresh,
// empty database on it.
func Postgres(t testing.TB) string {
	t.Helper()
	return StartPostgres(t).NewDatabase(t)
}

// S3 starts an S3 server for t and returns its endpoint URL and the name of
// a fresh, empty bucket on it. Its credentials are AccessKey and SecretKey
// (see Env).
func S3(t testing.TB) (endpoint, bucket string) {
	t.Helper()
	s := StartS3(t)
	return s.Endpoint, s.NewBucket(t)
}

// Env returns the environment lines a child process needs to reach the test
// S3 server (the AWS SDK reads its credentials from the environment).
func Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_REGION=" + Region,
	}
}

// PG is a running PostgreSQL server.
type PG struct {
	Port    int
	bin     string
	dir     string // owned by the server's OS user
	runAs   string // "" or the user to run the server binaries as
	mu      sync.Mutex
	running bool
	dbs     int
}

// StartPostgres initialises and starts a PostgreSQL server that t stops.
func StartPostgres(t testing.TB) *PG {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		t.Fatal(err)
	}
	p := &PG{bin: bin}
	// initdb refuses to run as root; CI runners often are root, so the
	// server then runs as the postgres user the Debian package creates.
	if os.Geteuid() == 0 {
		p.runAs = "postgres"
		if _, err := user.Lookup(p.runAs); err != nil {
			t.Fatalf("running as root and there is no %q user to run PostgreSQL as (install the Debian package postgresql: make deps): %v", p.runAs, err)
		}
	}
	sweepOnce.Do(func() { sweepOrphans(bin, p.runAs) })
	// Not t.TempDir: its parents are private to the test's user, which the
	// postgres user could not traverse.
	p.dir, err = os.MkdirTemp("", "cunzheng-pg-")
	if err != nil {
		t.Fatal(err)
	}
	// Who started this server: a later sweep stops it if that test process
	// died without its cleanup (killed by a timeout, say); pg_ctl runs the
	// server as a daemon that would otherwise outlive it.
	if err := os.WriteFile(filepath.Join(p.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(p.dir) })
	if p.runAs != "" {
		if out, err := exec.Command("chown", p.runAs, p.dir).CombinedOutput(); err != nil {
			t.Fatalf("chown %s: %v: %s", p.dir, err, out)
		}
	}
	if out, err := p.run("initdb", "-D", p.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if p.Port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop("immediate") })
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *PG) data() string { return filepath.Join(p.dir, "data") }

const ownerFile = "owner.pid"

var sweepOnce sync.Once

// sweepOrphans stops the servers this harness started for test processes
// that no longer exist, and removes their directories.
func sweepOrphans(bin, runAs string) {
	// The cmd tests point TMPDIR at a directory of their own, which a
	// killed test binary leaves behind too.
	var dirs []string
	for _, pat := range []string{
		filepath.Join(os.TempDir(), "cunzheng-pg-*"),
		"/tmp/cunzheng-pg-*",
		"/tmp/cunzheng-cmd-test-*/cunzheng-pg-*",
	} {
		m, _ := filepath.Glob(pat)
		dirs = append(dirs, m...)
	}
	for _, d := range dirs {
		raw, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // not ours, or still being set up
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) == nil || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // owner alive (or unknown)
		}
		old := &PG{bin: bin, dir: d, runAs: runAs, running: true}
		old.stop("immediate")
		os.RemoveAll(d)
	}
}

func (p *PG) run(tool string, args ...string) ([]byte, error) {
	path := filepath.Join(p.bin, tool)
	var cmd *exec.Cmd
	if p.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", p.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = p.dir
	return cmd.CombinedOutput()
}

// Start starts the server (again, after Stop) and waits until it accepts
// connections.
func (p *PG) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running {
		return nil
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", p.Port, p.dir)
	if out, err := p.run("pg_ctl", "-D", p.data(), "-o", opts, "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	p.running = true
	return nil
}

// Stop stops the server the way a crash or a network cut looks to a
// client: at once, connections dropped ("immediate" shutdown; PostgreSQL
// recovers from its WAL on the next Start).
func (p *PG) Stop() error { return p.stop("immediate") }

func (p *PG) stop(mode string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return nil
	}
	if out, err := p.run("pg_ctl", "-D", p.data(), "-m", mode, "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	p.running = false
	return nil
}

// DSN returns the DSN of database db on the server.
func (p *PG) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// NewDatabase creates a fresh database and returns its DSN.
func (p *PG) NewDatabase(t testing.TB) string {
	t.Helper()
	p.mu.Lock()
	p.dbs++
	name := fmt.Sprintf("t%d", p.dbs)
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		t.Fatalf("connecting to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	return p.DSN(name)
}

// postgresBin finds the directory of initdb and pg_ctl: $CUNZHENG_PG_BIN,
// the newest /usr/lib/postgresql/*/bin (Debian keeps them off PATH), or PATH.
func postgresBin() (string, error) {
	if d := os.Getenv("CUNZHENG_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package postgresql (make deps) or set CUNZHENG_PG_BIN")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// S3Server is a running versitygw.
type S3Server struct {
	Endpoint string
	mu       sync.Mutex
	buckets  int
	cmd      *exec.Cmd
	args     []string
	bin      string
	logf     *os.File
}

// StartS3 starts versitygw on a posix directory that t removes.
func StartS3(t testing.TB) *S3Server {
	t.Helper()
	bin, err := VersitygwPath()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "objects")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &S3Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), bin: bin}
	// --keep-alive: without it versitygw answers every request with
	// "Connection: close", and each upload dials a new connection and
	// leaves a TIME_WAIT socket behind (thousands per cluster test).
	s.args = []string{"--quiet", "--keep-alive", "--access", AccessKey, "--secret", SecretKey, "--region", Region,
		"--port", fmt.Sprintf("127.0.0.1:%d", port), "posix", root}
	if s.logf, err = os.Create(filepath.Join(dir, "versitygw.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(); s.logf.Close() })
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Start starts the server (again, after Stop) and waits until it answers.
func (s *S3Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = s.logf, s.logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting versitygw: %w", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer on %s: %v", s.Endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: an object store that vanishes).
func (s *S3Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Client returns an S3 client for the server, with path-style addressing.
func (s *S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
}

// NewBucket creates a fresh bucket and returns its name.
func (s *S3Server) NewBucket(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.buckets++
	name := fmt.Sprintf("bucket-%d", s.buckets)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}

// VersitygwPath finds the versitygw binary: $CUNZHENG_VERSITYGW, the
// module's bin/tools (where `make tools` installs it), $GOBIN or
// $(go env GOPATH)/bin, or PATH.
func VersitygwPath() (string, error) {
	if p := os.Getenv("CUNZHENG_VERSITYGW"); p != "" {
		return p, nil
	}
	var cands []string
	if root, err := moduleRoot(); err == nil {
		cands = append(cands, filepath.Join(root, "bin", "tools", "versitygw"))
	}
	if d := os.Getenv("GOBIN"); d != "" {
		cands = append(cands, filepath.Join(d, "versitygw"))
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			cands = append(cands, filepath.Join(d, "bin", "versitygw"))
		}
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", errors.New("versitygw not found: run `make tools` (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 into bin/tools) or set CUNZHENG_VERSITYGW")
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := string(bytes.TrimSpace(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not in a module")
	}
	return filepath.Dir(gomod), nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
