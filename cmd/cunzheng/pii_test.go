package main

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/evidence/evidencetest"
)

// piiRejected is a contract one signer rejects with a reason, whose other
// party (赵六) is then erased.
const piiRejected = `{"events":[
{"id":"pii-rj-sent","kind":"contract.sent","time":"2026-03-02T10:00:00+08:00","contract":{"id":"RJ-PII-7781","name":"采购合同"},
 "actor":{"account":"buyer@weiwei.example","name":"戴文潘","company":"伟伟集团","credit_code":"91330106MA2B2C3D4E","ip":"60.12.241.194"},
 "data":{"signers":2,"files":[{"name":"采购合同.pdf","sha256":"1111111111111111111111111111111111111111111111111111111111111111"}]}},
{"id":"pii-rj-id","kind":"identity.checked","time":"2026-03-02T10:02:10+08:00",
 "actor":{"account":"13800001111","name":"赵六","id_number":"330101199001011234","phone":"13800001111"},
 "data":{"method":"phone3","source":"运营商","result":"passed","ca":"CFCA","cert_serial":"0e0f1011aa"}},
{"id":"pii-rj-reject","kind":"contract.rejected","time":"2026-03-02T10:05:00+08:00","contract":{"id":"RJ-PII-7781"},
 "actor":{"account":"13911112222","name":"王小明"},"data":{"reason":"金额与约定不符"}}
]}`

// TestNoPersonalDataServedPublicly records, through the real server, a
// contract using every 实名认证 and 意愿认证 method of the schema, a
// rejected one and an erasure, issues reports about them, and then reads
// everything a stranger can: the checkpoint, every tile and entry bundle,
// each leaf over the JSON API and in the log explorer, the public pages,
// the public lookup of the contract's document, online verification of an
// unmasked report, and the API and console without a key or session. No
// personal value of those events (names, ID, card and account numbers,
// phones, accounts, IPs, OCR text, face digits and media hashes, reasons,
// contract numbers and names) is in any of it, nor in the server's logs.
func TestNoPersonalDataServedPublicly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	data := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "--data", data, "--demo")
	key := waitDemo(t, s)
	flows, err := os.ReadFile("../../report/assemble/testdata/golden_flows.json")
	if err != nil {
		t.Fatal(err)
	}
	ingestJSON(t, s, key, string(flows))
	ingestJSON(t, s, key, piiRejected)
	req, _ := http.NewRequest(http.MethodDelete, s.url+"/v1/subjects/13800001111", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("erase: %v %v", resp, err)
	}
	// Reports (each a report.issued leaf naming its requester, sealed).
	var numbers []string
	var revealed []byte
	for _, d := range []string{"certificate.pdf", "evidence-report.pdf", "certificate.pdf?reveal=true", "evidence-report.pdf?reveal=true"} {
		u := s.url + "/v1/contracts/SF-2026-0001/" + d
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				numbers = append(numbers, resp.Header.Get("X-Report-Number"))
				if strings.HasPrefix(d, "certificate.pdf?reveal") {
					revealed = body
				}
				break
			}
			if resp.StatusCode != 503 || time.Now().After(deadline) {
				t.Fatalf("GET %s: %d %s", d, resp.StatusCode, body)
			}
		}
	}

	// The published checkpoint covering everything.
	var size int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		lines := strings.Split(string(httpGet(t, s.url+"/checkpoint")), "\n")
		if len(lines) > 1 {
			size, _ = strconv.Atoi(lines[1])
		}
		if size >= 45 || time.Now().After(deadline) {
			break
		}
	}
	var public bytes.Buffer
	get := func(path string, want int) {
		t.Helper()
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		public.WriteString("\n==\n") // not the path: it names the contract
		public.Write(body)
	}
	get("/checkpoint", 200)
	for _, level := range []string{"entries", "0"} {
		for n := 0; n*256 < size; n++ {
			p := fmt.Sprintf("/tile/%s/%03d", level, n)
			if w := size - n*256; w < 256 {
				p += fmt.Sprintf(".p/%d", w)
			}
			get(p, 200)
		}
	}
	for i := 0; i < size; i++ {
		get(fmt.Sprintf("/v1/log/entries/%d", i), 200)
		get(fmt.Sprintf("/log?leaf=%d", i), 200)
	}
	// The built-in office's pages, but not its requests (their checks name
	// contract numbers).
	get("/notary/v1/requests", 404)
	for _, p := range []string{"/", "/log", "/verify", "/keys", "/v1/keys", "/notaries", "/docs/events",
		"/notary/", "/notary/cosigned", "/notary/alarms", "/notary/v1/office",
		"/v1/verify/lookup/" + strings.Repeat("22", 32), "/v1/verify/lookup/" + strings.Repeat("11", 32)} {
		get(p, 200)
	}
	for _, n := range numbers {
		get("/verify?report="+n, 200)
	}
	// Without a key or a session.
	get("/v1/contracts/SF-2026-0001", 401)
	get("/v1/contracts?name="+"供货", 401)
	get("/v1/contracts/SF-2026-0001/certificate.pdf", 401)
	resp, err := http.Get(s.url + "/console/contracts/SF-2026-0001")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The sign-in page links the address the visitor asked for (its
	// language switch): an echo of the request, not stored data.
	public.Write(bytes.ReplaceAll(body, []byte("/console/contracts/SF-2026-0001"), nil))
	// A stranger uploads the unmasked certificate page to the verifier.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "certificate.pdf")
	fw.Write(revealed)
	mw.Close()
	for _, path := range []string{"/v1/verify", "/verify"} {
		resp, err := http.Post(s.url+path, mw.FormDataContentType(), bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("POST %s: %d %.300s", path, resp.StatusCode, body)
		}
		public.WriteString("\n==\n")
		public.Write(body)
	}
	s.stop(t)
	public.WriteString(s.logs())

	got := public.Bytes()
	// Full values are looked for anywhere; the short face digits (which
	// turn up by chance in hashes, keys and base64) wherever they stand on
	// their own (evidencetest.Leaks).
	for _, v := range []string{
		// people, accounts, phones, ID, card and account numbers
		"周子涵", "王武", "戴文潘", "赵六", "王小明", "奥巴马", "330102199203034567", "330103197805051236", "330101199001011234",
		"13755556666", "13911110000", "13755550000", "13800001111", "13911112222", "6222020200112233445", "1102020509000012345",
		"legal@supplier.example", "sender@weiwei.example", "buyer@weiwei.example", "112.17.116.54", "101.68.1.2", "60.12.241.194",
		"杭州供应链有限公司", "91330100MA27XYZ12Q", "杭州供应链有限公司苏州分公司",
		// OCR, image and video hashes, certificate serials, face digits
		"姓名周子涵", "法定代表人王武", strings.Repeat("a1", 32), strings.Repeat("b2", 32), strings.Repeat("c3", 32),
		strings.Repeat("d4", 32), strings.Repeat("07", 32), "7a7b7c7d7e7f", "7a7b7c7d7e70", "0e0f1011aa",
		"0839", "5172",
		// contracts, files, reasons
		"SF-2026-0001", "RJ-PII-7781", "供货框架合同", "采购合同", "金额与约定不符",
	} {
		if i := evidencetest.Index(got, v); i >= 0 {
			t.Errorf("public bytes contain %q: …%s…", v, got[max(0, i-200):min(len(got), i+100)])
		}
	}
	// The test looks at the leaves and the pages: their public facts are there.
	for _, v := range []string{`"method":"remittance"`, `"method":"enterprise3"`, `"method":"phone3"`, `"kind":"data.erased"`,
		`"kind":"report.issued"`, "签约存证页", `"similarity":0.93`} {
		if !bytes.Contains(got, []byte(v)) {
			t.Errorf("public bytes lack %s (the test is not looking at them)", v)
		}
	}
}
