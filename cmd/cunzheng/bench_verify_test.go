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
	// As a user runs it: handed over where the hand-over is built in.
	if out, err := exec.Command("go", "env", "GOOS", "CGO_ENABLED").Output(); err == nil && string(out) == "linux\n1\n" && res.Path != pathHandedOver {
		t.Errorf("measured verify pdf %s, want %s", res.Path, pathHandedOver)
	}
	out = cunzheng(t, "bench", "verify", "../../testdata/pdf", "--rounds", "1", "--processes", "1", "--pdfsig=false", "--in-process", "--json")
	var in verifyBenchResult
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if in.Path != pathInProcess {
		t.Errorf("--in-process measured verify pdf %s", in.Path)
	}
	if _, err := exec.LookPath("pdfsig"); err == nil && (!res.PdfsigInstalled || res.PdfsigMedianMs <= 0 || res.RatioToPdfsig <= 0) {
		t.Fatalf("pdfsig is installed but not compared: %+v", res)
	}
}
