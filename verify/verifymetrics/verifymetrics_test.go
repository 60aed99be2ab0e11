package verifymetrics

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cunzheng/cunzheng/verify"
)

// TestCountsOutcomes verifies a file that is not a PDF and one too large
// through package verify and reads the counters back from the registry.
func TestCountsOutcomes(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	opts := verify.Options{Metrics: New(reg), MaxSize: 64}
	if _, err := verify.PDFBytes(context.Background(), []byte("not a pdf"), opts); err == nil {
		t.Fatal("a text file verified")
	}
	if _, err := verify.PDFBytes(context.Background(), make([]byte, 65), opts); err == nil {
		t.Fatal("a file over MaxSize verified")
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	var observed uint64
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "cunzheng_verify_pdf_total":
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			case "cunzheng_verify_pdf_seconds":
				observed = m.GetHistogram().GetSampleCount()
			}
		}
	}
	if len(got) != 2 || got["not_pdf"] != 1 || got["too_large"] != 1 {
		t.Errorf("outcomes counted %v, want not_pdf 1 and too_large 1", got)
	}
	if observed != 2 {
		t.Errorf("%d durations observed, want 2", observed)
	}
}
