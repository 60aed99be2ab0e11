package notary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The log's side of notarisation requests: send a signed request with its
// bundle to an office, and read back what the office made of it.

// DefaultRequestTimeout bounds one request to an office: a bundle of a few
// megabytes and the office's own checks of it.
const DefaultRequestTimeout = 60 * time.Second

// maxRecordBytes bounds an office's answer about one request.
const maxRecordBytes = 1 << 20

func requestClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{Timeout: DefaultRequestTimeout}
	}
	return c
}

// SendRequest posts a signed request (SignRequest) and its evidence
// bundle to the office at officeURL (POST officeURL/v1/requests) and returns
// the office's record of it: verified, or refused with the reason.
func SendRequest(ctx context.Context, client *http.Client, officeURL string, msg, bundle []byte) (RequestRecord, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range []struct {
		name string
		data []byte
	}{{"request", msg}, {"bundle", bundle}} {
		w, err := mw.CreateFormFile(p.name, p.name)
		if err != nil {
			return RequestRecord{}, fmt.Errorf("notary: encoding request: %w", err)
		}
		w.Write(p.data)
	}
	if err := mw.Close(); err != nil {
		return RequestRecord{}, fmt.Errorf("notary: encoding request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(officeURL, "/")+"/v1/requests", &body)
	if err != nil {
		return RequestRecord{}, fmt.Errorf("notary: request to %s: %w", officeURL, err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return doRecord(requestClient(client), req)
}

// FetchRequest reads the office's record of request id (GET
// officeURL/v1/requests/ID): how the log learns that a 公证书 was issued,
// or the request refused. The fetch is signed with auth, the log's keys
// (LogAuth.Header): without it the office answers only what is public.
func FetchRequest(ctx context.Context, client *http.Client, officeURL, id string, auth LogAuth) (RequestRecord, error) {
	req, err := fetchRequest(ctx, strings.TrimRight(officeURL, "/")+"/v1/requests/"+url.PathEscape(id), id, auth)
	if err != nil {
		return RequestRecord{}, err
	}
	return doRecord(requestClient(client), req)
}

// FetchCertificate downloads the issued 公证书 of rec from the office,
// signed with auth as FetchRequest, and checks it is the one the office's
// record names.
func FetchCertificate(ctx context.Context, client *http.Client, officeURL string, rec RequestRecord, auth LogAuth) ([]byte, error) {
	if rec.Status != RequestIssued {
		return nil, fmt.Errorf("%w: request %s is %s", ErrNotFound, rec.ID, rec.Status)
	}
	req, err := fetchRequest(ctx, strings.TrimRight(officeURL, "/")+"/requests/"+url.PathEscape(rec.ID)+"/certificate.pdf", rec.ID, auth)
	if err != nil {
		return nil, err
	}
	resp, err := requestClient(client).Do(req)
	if err != nil {
		return nil, fmt.Errorf("notary: GET %s: %w", req.URL, err)
	}
	defer resp.Body.Close()
	pdf, err := io.ReadAll(io.LimitReader(resp.Body, MaxBundleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("notary: reading the certificate: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("notary: the office answered %s: %s", resp.Status, strings.TrimSpace(string(pdf[:min(len(pdf), 500)])))
	}
	if sum := sha256.Sum256(pdf); hex.EncodeToString(sum[:]) != rec.CertificateSHA256 {
		return nil, fmt.Errorf("notary: the certificate served for %s is not the one the office's record names", rec.ID)
	}
	return pdf, nil
}

// fetchRequest is a GET of u about request id, signed with auth.
func fetchRequest(ctx context.Context, u, id string, auth LogAuth) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("notary: request to %s: %w", u, err)
	}
	h, err := auth.Header(id, time.Now())
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", h)
	return req, nil
}

func doRecord(c *http.Client, req *http.Request) (RequestRecord, error) {
	resp, err := c.Do(req)
	if err != nil {
		return RequestRecord{}, fmt.Errorf("notary: %s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRecordBytes+1))
	if err != nil {
		return RequestRecord{}, fmt.Errorf("notary: reading the office's answer: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		// The office does not hold the request: told apart so that a
		// poller can tell a request still on its way from other failures.
		return RequestRecord{}, fmt.Errorf("%w: the office answered %s: %s", ErrNotFound, resp.Status, strings.TrimSpace(string(b[:min(len(b), 500)])))
	}
	if resp.StatusCode != http.StatusOK {
		return RequestRecord{}, fmt.Errorf("notary: the office answered %s: %s", resp.Status, strings.TrimSpace(string(b[:min(len(b), 500)])))
	}
	var rec RequestRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return RequestRecord{}, fmt.Errorf("notary: decoding the office's answer: %w", err)
	}
	return rec, nil
}
