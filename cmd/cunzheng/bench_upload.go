package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type uploadBenchResult struct {
	Uploads   int     `json:"uploads"`
	MiB       int     `json:"upload_mib"`
	Addresses int     `json:"addresses"`
	Seconds   float64 `json:"seconds"`
	// Verified counts uploads answered 200; Refused503 the 503 answers
	// (each followed by a retry after Retry-After when --retry is set).
	Verified   int   `json:"verified"`
	Refused503 int   `json:"refused_503"`
	Other      []int `json:"other_statuses,omitempty"`
	Errors     int   `json:"transport_errors"`
	// The server process's resident set: before the burst, its peak
	// (VmHWM) and some seconds after the burst.
	RSSBeforeMiB float64 `json:"rss_before_mib"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
	RSSAfterMiB  float64 `json:"rss_after_mib"`
	AfterSeconds float64 `json:"after_seconds"`
}

// runBenchUpload starts `cunzheng serve` (this binary, or --server) as a
// child process on loopback and sends it a burst of large PDFs to
// POST /v1/verify from several source addresses at once, as issue 23's
// attacker did, measuring the server process's resident memory.
func runBenchUpload(ctx context.Context, args []string) error {
	fs := newFlagSet("bench upload", "bench upload [--uploads N] [--mib M] [--addresses A] [--retry] [--server BINARY] [--addr HOST:PORT] [--json]\n\nStarts `cunzheng serve` as a child process with a fresh data directory on a\nloopback port, then sends N uploads of an M MiB PDF (one large incompressible\nstream, no signature) to POST /v1/verify at once, from A loopback source\naddresses (127.0.0.1, 127.0.0.2, ...; the per-address rate limit allows 30 a\nminute). It reports the answers and the server's resident memory: before,\nthe peak (VmHWM) and a few seconds after the burst. The defaults are the\nissue's burst, 60 uploads of 49 MiB from three addresses; the target is a\npeak under 1 GiB. With --retry, uploads answered 503 are sent again after\ntheir Retry-After, until every one is verified.")
	uploads := fs.Int("uploads", 60, "uploads sent at once")
	mib := fs.Int("mib", 49, "size of each upload in MiB")
	addresses := fs.Int("addresses", 3, "loopback source addresses")
	retry := fs.Bool("retry", false, "send uploads answered 503 (or cut off by the server) again after Retry-After")
	server := fs.String("server", "", "the cunzheng binary to serve with (default: this one)")
	after := fs.Duration("after", 5*time.Second, "how long after the burst to read the resident memory again")
	listen := fs.String("addr", "127.0.0.1:0", "the server's listen address (port 0: a free one)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *uploads < 1 || *mib < 1 || *addresses < 1 || *addresses > 250 {
		return errors.New("--uploads and --mib must be positive, --addresses 1 to 250")
	}
	bin := *server
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "cunzheng-bench-upload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.CommandContext(ctx, bin, "serve", "--data", dir, "--addr", addr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	base := "http://" + addr
	if err := waitHealthy(ctx, base); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	body := bigPDF(*mib << 20)

	res := uploadBenchResult{Uploads: *uploads, MiB: *mib, Addresses: *addresses, AfterSeconds: after.Seconds()}
	res.RSSBeforeMiB = procStatusMiB(pid, "VmRSS")
	clients := make([]*http.Client, *addresses)
	for i := range clients {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i+1))}, Timeout: 10 * time.Second}
		clients[i] = &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: *uploads,
			ExpectContinueTimeout: 5 * time.Second}, Timeout: 5 * time.Minute}
	}
	var mu sync.Mutex // guards res's counters
	var wg sync.WaitGroup
	var inFlight atomic.Int64
	start := time.Now()
	for i := range *uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inFlight.Add(1)
			defer inFlight.Add(-1)
			c := clients[i%len(clients)]
			for {
				status, wait, err := postPDF(ctx, c, base+"/v1/verify", body)
				mu.Lock()
				switch {
				case err != nil:
					res.Errors++
				case status == http.StatusOK:
					res.Verified++
				case status == http.StatusServiceUnavailable:
					res.Refused503++
				default:
					res.Other = append(res.Other, status)
				}
				mu.Unlock()
				// A refused upload can also end in a reset connection: the
				// server answers 503 and closes without reading the body.
				if !*retry || (err == nil && status != http.StatusServiceUnavailable) || ctx.Err() != nil {
					return
				}
				time.Sleep(wait)
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.PeakRSSMiB = procStatusMiB(pid, "VmHWM")
	time.Sleep(*after)
	res.RSSAfterMiB = procStatusMiB(pid, "VmRSS")
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("%d uploads of %d MiB from %d addresses in %.1f s: %d verified, %d answered 503, %d transport errors, other %v\n",
		res.Uploads, res.MiB, res.Addresses, res.Seconds, res.Verified, res.Refused503, res.Errors, res.Other)
	fmt.Printf("server RSS: %.0f MiB before, peak %.0f MiB, %.0f MiB %.0f s after\n", res.RSSBeforeMiB, res.PeakRSSMiB, res.RSSAfterMiB, res.AfterSeconds)
	return nil
}

// postPDF posts body as application/pdf and returns the status and the
// Retry-After it asks for.
func postPDF(ctx context.Context, c *http.Client, url string, body []byte) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/pdf")
	// As curl does for large bodies: a server that refuses the upload
	// answers before the body is sent.
	req.Header.Set("Expect", "100-continue")
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	wait := time.Second
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		wait = time.Duration(s) * time.Second
	}
	return resp.StatusCode, wait, nil
}

func waitHealthy(ctx context.Context, base string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the server at %s did not become healthy: %v", base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// procStatusMiB reads a kB field of /proc/PID/status (VmRSS, VmHWM).
func procStatusMiB(pid int, field string) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// bigPDF returns a well-formed one-page PDF of about size bytes, most of
// it one incompressible stream: a large scan, as courts upload them.
func bigPDF(size int) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(s string) {
		offs = append(offs, b.Len())
		b.WriteString(s)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj("1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n")
	obj("2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 1>>\nendobj\n")
	obj("3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>\nendobj\n")
	n := max(size-1024, 1)
	obj(fmt.Sprintf("4 0 obj\n<</Length %d>>\nstream\n", n))
	data := make([]byte, n)
	rand.Read(data)
	b.Write(data)
	b.WriteString("\nendstream\nendobj\n")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}
