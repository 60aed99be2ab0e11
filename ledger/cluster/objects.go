package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
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

// ParseObjectsURL parses s3://BUCKET[/PREFIX]?endpoint=URL&region=R.
// Credentials come from the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY) or the SDK's other default sources.
func OpenObjects(ctx context.Context, raw string) (*Objects, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("cluster: objects URL %q: want s3://BUCKET[/PREFIX]?endpoint=URL&region=R", raw)
	}
	q := u.Query()
	for k := range q {
		if k != "endpoint" && k != "region" {
			return nil, fmt.Errorf("cluster: objects URL %q: unknown parameter %q", raw, k)
		}
	}
	region := q.Get("region")
	if region == "" {
		region = "us-east-1"
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("cluster: S3 configuration: %w", err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if ep := q.Get("endpoint"); ep != "" {
			o.BaseEndpoint = aws.String(ep)
			// Self-hosted S3 servers (versitygw, MinIO) rarely have a
			// wildcard DNS name per bucket.
			o.UsePathStyle = true
		}
	})
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Objects{client: client, bucket: u.Host, prefix: prefix}, nil
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
