package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Objects is the bucket the log's public, immutable files go to, laid out
// as C2SP tlog-tiles paths so any static web server or CDN can serve it.
type Objects struct {
	client *s3.Client
	bucket string
	prefix string
}

// ObjectsURL is a parsed --objects URL.
type ObjectsURL struct {
	Bucket, Prefix, Endpoint, Region string
}

// ParseObjectsURL parses s3://BUCKET[/PREFIX]?endpoint=URL&region=R. The
// region defaults to us-east-1; without an endpoint the SDK's (AWS) is used.
func ParseObjectsURL(raw string) (ObjectsURL, error) {
	bad := func(why string) (ObjectsURL, error) {
		return ObjectsURL{}, fmt.Errorf("cluster: objects URL %q: %s; want s3://BUCKET[/PREFIX]?endpoint=URL&region=R", raw, why)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad(err.Error())
	}
	if u.Scheme != "s3" || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return bad("not s3://BUCKET")
	}
	if !validBucket(u.Host) {
		return bad("invalid bucket name")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad(err.Error())
	}
	for k, v := range q {
		if (k != "endpoint" && k != "region") || len(v) != 1 {
			return bad(fmt.Sprintf("unknown or repeated parameter %q", k))
		}
	}
	o := ObjectsURL{Bucket: u.Host, Endpoint: q.Get("endpoint"), Region: q.Get("region")}
	if o.Endpoint != "" {
		e, err := url.Parse(o.Endpoint)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return bad("endpoint must be an http(s) URL")
		}
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		o.Prefix = p + "/"
	}
	return o, nil
}

// validBucket checks the S3 bucket naming rules that matter here: 3-63
// lower-case letters, digits, dots and hyphens, starting and ending with a
// letter or digit.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i, c := range b {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && c != '.' && c != '-' || (i == 0 || i == len(b)-1) && !alnum {
			return false
		}
	}
	return true
}

// OpenObjects opens the bucket an --objects URL names (see ParseObjectsURL).
// Credentials come from the environment: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and, for temporary ones, AWS_SESSION_TOKEN.
//
// The client is built with s3.New from those alone, not with the SDK's
// config.LoadDefaultConfig: that chain (shared config files, SSO, STS web
// identity, sign-in) links five more service clients whose package
// initialisers build endpoint tables and schemas in every run of the
// binary, `verify pdf` included, about 3 ms of start-up for sources the
// deployments here (self-hosted S3 with static keys) never use.
func OpenObjects(ctx context.Context, raw string) (*Objects, error) {
	o, err := ParseObjectsURL(raw)
	if err != nil {
		return nil, err
	}
	creds, err := envCredentials(os.Getenv)
	if err != nil {
		return nil, err
	}
	client := s3.New(s3.Options{
		Region:      o.Region,
		Credentials: aws.NewCredentialsCache(creds),
	}, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			// Self-hosted S3 servers (versitygw, MinIO) rarely have a
			// wildcard DNS name per bucket.
			so.UsePathStyle = true
		}
	})
	return &Objects{client: client, bucket: o.Bucket, prefix: o.Prefix}, nil
}

// envCredentials reads the S3 credentials from the environment (getenv);
// both halves of the key must be set.
func envCredentials(getenv func(string) string) (aws.CredentialsProvider, error) {
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return nil, errors.New("cluster: S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
	}
	return credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN")), nil
}

// Put writes an object.
func (o *Objects) Put(ctx context.Context, key string, data []byte, cacheControl string) error {
	in := &s3.PutObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(o.prefix + key), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}
	if cacheControl != "" {
		in.CacheControl = aws.String(cacheControl)
	}
	if _, err := o.client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("object store: put %s: %w", key, err)
	}
	return nil
}

// Get reads an object; a missing one is an error wrapping errNoObject.
func (o *Objects) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := o.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(o.bucket), Key: aws.String(o.prefix + key)})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, fmt.Errorf("object store: %s: %w", key, errNoObject)
		}
		return nil, fmt.Errorf("object store: get %s: %w", key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

var errNoObject = errors.New("no such object")
