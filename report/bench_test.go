package report_test

import (
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/report"
	"github.com/cunzheng/cunzheng/report/reporttest"
)

// bench20 is a 20-event contract, the size the targets name.
func bench20(b *testing.B, cfg ...report.Config) (*reporttest.Fixture, *report.Service) {
	b.Helper()
	f, err := reporttest.Build(reporttest.Options{MinEvents: 20})
	if err != nil {
		b.Fatal(err)
	}
	if n := len(f.Contract.Events); n != 20 {
		b.Fatalf("%d events, want 20", n)
	}
	c := report.Config{}
	if len(cfg) > 0 {
		c = cfg[0]
	}
	return f, newService(b, f, c)
}

// cold keeps no prepared document: every render parses the fonts inline.
var cold = report.Config{PreparedDocuments: -1}

// benchLatency runs render b.N times and reports the median and p90 in ms
// (targets: evidence report p50 < 150 ms, certificate < 50 ms, signed with
// an RFC 3161 signature timestamp from a TSA on loopback).
func benchLatency(b *testing.B, render func(*report.Contract, report.Request) ([]byte, error), c *report.Contract) {
	d := make([]time.Duration, 0, b.N)
	req := demoRequest(false)
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := render(c, req); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	cpu := cpuTime() - cpu0
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(d[len(d)*9/10])/1e6, "p90-ms")
	b.ReportMetric(float64(cpu)/1e6/float64(len(d)), "cpu-ms/op")
}

// cpuTime is the process's user+system CPU time. On a shared machine wall
// latency mostly measures the neighbours; CPU per report does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkEvidenceReport20(b *testing.B) {
	f, s := bench20(b)
	benchLatency(b, s.EvidenceReport, f.Contract)
}

func BenchmarkCertificate20(b *testing.B) {
	f, s := bench20(b)
	benchLatency(b, s.Certificate, f.Contract)
}

func BenchmarkEvidenceReport20Cold(b *testing.B) {
	f, s := bench20(b, cold)
	benchLatency(b, s.EvidenceReport, f.Contract)
}

func BenchmarkCertificate20Cold(b *testing.B) {
	f, s := bench20(b, cold)
	benchLatency(b, s.Certificate, f.Contract)
}

// BenchmarkEvidenceReportParallel reports signed evidence reports per
// second with GOMAXPROCS workers (target >= 20/s on 2 cores).
func BenchmarkEvidenceReportParallel(b *testing.B) {
	f, s := bench20(b)
	req := demoRequest(false)
	start, cpu0 := time.Now(), cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.EvidenceReport(f.Contract, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reports/s")
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "reports/cpu-s")
}

func BenchmarkBundle20(b *testing.B) {
	f, s := bench20(b)
	req := demoRequest(true)
	for b.Loop() {
		if _, err := s.Bundle(f.Contract, req); err != nil {
			b.Fatal(err)
		}
	}
}
