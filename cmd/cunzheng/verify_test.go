package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/cunzheng/cunzheng/verify"
)

// TestVerifyPDFCommand runs "cunzheng verify pdf" on corpus files and
// checks the exit status chosen for each verdict.
func TestVerifyPDFCommand(t *testing.T) {
	const dir = "../../testdata/pdf/"
	tests := []struct {
		args     []string
		wantCode int // 0 for success
		wantOut  string
	}{
		{[]string{dir + "sm2-tsa.pdf", "--trust-roots", dir + "roots", "--system-roots=false"}, 0, "该PDF文件已签名且所有签名都有效"},
		{[]string{"--trust-roots", dir + "roots", dir + "byte-flip.pdf"}, exitTotalFailed, "签名覆盖的内容已被篡改"},
		{[]string{dir + "pdfsig-rsa.pdf", "--trust-roots", dir + "roots"}, exitIndeterminate, "TRY_LATER"},
		{[]string{dir + "rsa-sha256-tsa.pdf"}, exitIndeterminate, "NO_CERTIFICATE_CHAIN_FOUND"},
		// An intact token by a TSA whose root is not given: untrusted, not invalid.
		{[]string{dir + "rsa-sha256-tsa.pdf"}, exitIndeterminate, "(不受信任 untrusted: the timestamp authority is not trusted"},
		{[]string{dir + "generate.sh"}, exitUnreadable, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := runVerifyPDF(context.Background(), tt.args, &out)
			code := 0
			var ec exitCoder
			if errors.As(err, &ec) {
				code = ec.ExitCode()
			} else if err != nil {
				t.Fatalf("error without exit code: %v", err)
			}
			if code != tt.wantCode {
				t.Fatalf("exit %d (%v), want %d\n%s", code, err, tt.wantCode, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("output lacks %q:\n%s", tt.wantOut, out.String())
			}
		})
	}
	var out bytes.Buffer
	runVerifyPDF(context.Background(), []string{"--json", "--trust-roots", dir + "roots", dir + "two-sigs.pdf"}, &out)
	var rep verify.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Signatures) != 2 {
		t.Fatalf("--json: %v, %d signatures", err, len(rep.Signatures))
	}
}

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
