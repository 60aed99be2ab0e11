package main

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// TestBenchVerify runs "cunzheng bench verify" on the corpus as a user
// would: in-process passes, then one process per file beside pdfsig.
func TestBenchVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	out := cunzheng(t, "bench", "verify", "../../testdata/pdf", "--rounds", "1", "--processes", "3", "--json")
	var res verifyBenchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Files < 20 || res.FilesPerSec <= 0 || res.ProcessFiles != 3 || res.OursMedianMs <= 0 || res.OursCPUMs <= 0 {
		t.Fatalf("implausible result: %+v", res)
	}
	if _, err := exec.LookPath("pdfsig"); err == nil && (!res.PdfsigInstalled || res.PdfsigMedianMs <= 0 || res.RatioToPdfsig <= 0) {
		t.Fatalf("pdfsig is installed but not compared: %+v", res)
	}
}
