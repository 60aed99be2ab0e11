package cli

import (
	"bytes"
	"context"
	"encoding/json"
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
		{[]string{"--trust-roots", dir + "roots", dir + "byte-flip.pdf"}, ExitTotalFailed, "签名覆盖的内容已被篡改"},
		{[]string{dir + "pdfsig-rsa.pdf", "--trust-roots", dir + "roots"}, ExitIndeterminate, "TRY_LATER"},
		{[]string{dir + "rsa-sha256-tsa.pdf"}, ExitIndeterminate, "NO_CERTIFICATE_CHAIN_FOUND"},
		// An intact token by a TSA whose root is not given: untrusted, not invalid.
		{[]string{dir + "rsa-sha256-tsa.pdf"}, ExitIndeterminate, "(不受信任 untrusted: 时间戳机构不受信任（x509: certificate signed by unknown authority） — the timestamp authority is not trusted"},
		{[]string{dir + "generate.sh"}, ExitUnreadable, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := PDF(context.Background(), "cunzheng verify", tt.args, &out)
			code := ExitCode(err)
			if code == 1 {
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
	PDF(context.Background(), "cunzheng verify", []string{"--json", "--trust-roots", dir + "roots", dir + "two-sigs.pdf"}, &out)
	var rep verify.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Signatures) != 2 {
		t.Fatalf("--json: %v, %d signatures", err, len(rep.Signatures))
	}
}
