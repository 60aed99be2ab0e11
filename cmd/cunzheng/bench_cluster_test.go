package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestPrintClusterBenchCountsProcesses: the header says "1 process" and
// "3 processes", not "process(es)".
func TestPrintClusterBenchCountsProcesses(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{1, "cluster (PostgreSQL + S3), 1 process, "},
		{3, "cluster (PostgreSQL + S3), 3 processes, "},
	} {
		var b bytes.Buffer
		printClusterBench(&b, &clusterBenchResult{Processes: tc.n})
		if first, _, _ := strings.Cut(b.String(), "\n"); !strings.HasPrefix(first, tc.want) {
			t.Errorf("%d processes: header %q, want it to start with %q", tc.n, first, tc.want)
		}
	}
}
