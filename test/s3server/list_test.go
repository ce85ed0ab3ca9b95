package s3server_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keygate/keygate/test/s3server"
)

// A delimited listing folds keys into CommonPrefixes, page by page, as S3
// does; the real SDK's paginator walks it.
func TestListDelimiter(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"AWSLogs/1/CloudTrail/a", "AWSLogs/1/CloudTrail/b", "AWSLogs/2/x", "AWSLogs/top.json", "AWSLogs/3/y"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := s3server.New(t)
	if err := srv.PutDir("b", dir); err != nil {
		t.Fatal(err)
	}
	c := s3.NewFromConfig(aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "s", "")},
		func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(srv.URL), true })
	var got []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("b"), Prefix: aws.String("AWSLogs/"),
		Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range page.CommonPrefixes {
			got = append(got, aws.ToString(cp.Prefix))
		}
		for _, o := range page.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if want := []string{"AWSLogs/1/", "AWSLogs/2/", "AWSLogs/3/", "AWSLogs/top.json"}; !slices.Equal(got, want) {
		t.Fatalf("listing %q, want %q", got, want)
	}
}
