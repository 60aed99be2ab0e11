package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestParseObjectsURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ObjectsURL
		err  string
	}{
		{"s3://log-bucket", ObjectsURL{Bucket: "log-bucket", Region: "us-east-1"}, ""},
		{"s3://log.bucket/tlog/?endpoint=http://127.0.0.1:7070&region=cn-north-1", ObjectsURL{Bucket: "log.bucket", Prefix: "tlog/", Endpoint: "http://127.0.0.1:7070", Region: "cn-north-1"}, ""},
		{"https://log-bucket", ObjectsURL{}, "not s3://"},
		{"s3://", ObjectsURL{}, "not s3://"},
		{"s3://ab", ObjectsURL{}, "bucket name"},
		{"s3://Log_Bucket", ObjectsURL{}, "bucket name"},
		{"s3://-bucket", ObjectsURL{}, "bucket name"},
		{"s3://bucket?endpoint=ftp://x", ObjectsURL{}, "http(s)"},
		{"s3://bucket?secret=x", ObjectsURL{}, "unknown"},
		{"s3://bucket?region=a&region=b", ObjectsURL{}, "repeated"},
		{"s3://user:pw@bucket", ObjectsURL{}, "not s3://"},
	} {
		got, err := ParseObjectsURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want an error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseObjectsURL(f *testing.F) {
	f.Add("s3://log-bucket/p?endpoint=http://127.0.0.1:7070&region=r")
	f.Add("s3://b..b?endpoint=")
	f.Add("s3://%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := ParseObjectsURL(raw)
		if err != nil {
			return
		}
		if !validBucket(o.Bucket) || o.Region == "" || (o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/")) {
			t.Fatalf("%q parsed to %+v", raw, o)
		}
	})
}

func TestEnvCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want aws.Credentials
		err  string
	}{
		{"static", map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}, aws.Credentials{AccessKeyID: "id", SecretAccessKey: "secret"}, ""},
		{"session", map[string]string{"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "tok"}, aws.Credentials{AccessKeyID: "id", SecretAccessKey: "secret", SessionToken: "tok"}, ""},
		{"no secret", map[string]string{"AWS_ACCESS_KEY_ID": "id"}, aws.Credentials{}, "AWS_SECRET_ACCESS_KEY"},
		{"none", map[string]string{}, aws.Credentials{}, "AWS_ACCESS_KEY_ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := envCredentials(func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got.AccessKeyID != tc.want.AccessKeyID || got.SecretAccessKey != tc.want.SecretAccessKey || got.SessionToken != tc.want.SessionToken {
				t.Errorf("credentials = %+v, want %+v", got, tc.want)
			}
		})
	}
}
