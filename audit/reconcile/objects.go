package reconcile

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DirObjects is a trail's log files copied to a local directory (the
// directory that holds AWSLogs/).
type DirObjects string

func (d DirObjects) Name() string { return string(d) }

func (d DirObjects) List(_ context.Context, dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(string(d), filepath.FromSlash(dir)))
	if os.IsNotExist(err) {
		return nil, nil // a day with no delivery
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name()+"/")
		} else {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (d DirObjects) Open(_ context.Context, name string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(d), filepath.FromSlash(name)))
}

// S3API is what S3Objects calls (the SDK client implements it).
type S3API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// S3Objects is a trail's bucket and prefix (the part before AWSLogs/).
type S3Objects struct {
	API    S3API
	Bucket string
	Prefix string // "" or ending in "/"
}

// ParseS3URL splits s3://bucket/prefix.
func ParseS3URL(u string) (bucket, prefix string, ok bool) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", false
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return bucket, prefix, bucket != ""
}

func (s S3Objects) Name() string { return "s3://" + s.Bucket + "/" + s.Prefix }

func (s S3Objects) List(ctx context.Context, dir string) ([]string, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(s.Prefix + dir), Delimiter: aws.String("/")}
	var out []string
	for p := s3.NewListObjectsV2Paginator(s.API, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, strings.TrimPrefix(aws.ToString(cp.Prefix), s.Prefix+dir))
		}
		for _, o := range page.Contents {
			out = append(out, strings.TrimPrefix(aws.ToString(o.Key), s.Prefix+dir))
		}
	}
	return out, nil
}

func (s S3Objects) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	out, err := s.API.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.Prefix + name)})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}
