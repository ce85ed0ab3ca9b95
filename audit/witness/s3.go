package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/keygate/keygate/audit"
)

// S3Config names the bucket and how long each checkpoint stays locked.
type S3Config struct {
	Bucket string `yaml:"bucket"`
	Prefix string `yaml:"prefix"` // e.g. "keygate/prod/"
	Region string `yaml:"region"`
	// Endpoint overrides the S3 endpoint (a VPC endpoint, a test server).
	Endpoint  string `yaml:"endpoint"`
	PathStyle bool   `yaml:"path_style"`
	// Mode is the Object Lock mode, COMPLIANCE (default: nobody, root
	// included, can delete a locked object early) or GOVERNANCE.
	Mode string `yaml:"mode"`
	// RetainDays is how long each checkpoint is locked (default 400: a
	// year of PCI DSS 10.5.1 retention, plus slack).
	RetainDays int `yaml:"retain_days"`
}

// S3 puts each checkpoint as its own object, under Object Lock, in a bucket
// created with Object Lock enabled. Keys count down (prefix + 20 digits of
// MaxUint64 - counter + ".json"), so ListObjectsV2's first key, in
// S3's ascending order, is the newest checkpoint.
type S3 struct {
	c   *s3.Client
	cfg S3Config
	now func() time.Time
}

var _ audit.WitnessReader = (*S3)(nil)

// NewS3 connects with the AWS SDK's default credential chain.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	ac, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("witness: s3: %w", err)
	}
	return NewS3Client(s3.NewFromConfig(ac, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	}), cfg)
}

// NewS3Client uses a client the caller configured.
func NewS3Client(c *s3.Client, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("witness: s3: bucket is required")
	}
	if cfg.Mode == "" {
		cfg.Mode = string(types.ObjectLockModeCompliance)
	}
	if cfg.Mode != string(types.ObjectLockModeCompliance) && cfg.Mode != string(types.ObjectLockModeGovernance) {
		return nil, fmt.Errorf("witness: s3: mode %q: want COMPLIANCE or GOVERNANCE", cfg.Mode)
	}
	if cfg.RetainDays < 0 {
		return nil, errors.New("witness: s3: retain_days must not be negative")
	}
	if cfg.RetainDays == 0 {
		cfg.RetainDays = 400
	}
	return &S3{c: c, cfg: cfg, now: time.Now}, nil
}

// Name implements audit.Witness.
func (w *S3) Name() string { return "s3://" + w.cfg.Bucket + "/" + w.cfg.Prefix }

func (w *S3) key(counter uint64) string {
	return fmt.Sprintf("%s%020d.json", w.cfg.Prefix, uint64(math.MaxUint64)-counter)
}

// Publish puts c under Object Lock, never over an existing object.
func (w *S3) Publish(ctx context.Context, c audit.Checkpoint) error {
	b, err := audit.MarshalCheckpoint(c)
	if err != nil {
		return err
	}
	_, err = w.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(w.cfg.Bucket), Key: aws.String(w.key(c.Counter)), Body: bytes.NewReader(b),
		ContentType:               aws.String("application/json"),
		ChecksumAlgorithm:         types.ChecksumAlgorithmSha256, // Object Lock puts need a checksum
		ObjectLockMode:            types.ObjectLockMode(w.cfg.Mode),
		ObjectLockRetainUntilDate: aws.Time(w.now().Add(time.Duration(w.cfg.RetainDays) * 24 * time.Hour)),
		IfNoneMatch:               aws.String("*"),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", w.key(c.Counter), err)
	}
	return nil
}

// Latest reads the newest checkpoint: the first key under the prefix.
func (w *S3) Latest(ctx context.Context) (audit.Checkpoint, bool, error) {
	out, err := w.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(w.cfg.Bucket),
		Prefix: aws.String(w.cfg.Prefix), MaxKeys: aws.Int32(1)})
	if err != nil {
		return audit.Checkpoint{}, false, fmt.Errorf("list %s: %w", w.Name(), err)
	}
	if len(out.Contents) == 0 {
		return audit.Checkpoint{}, false, nil
	}
	key := aws.ToString(out.Contents[0].Key)
	n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(key, w.cfg.Prefix), ".json"), 10, 64)
	if err != nil {
		return audit.Checkpoint{}, false, fmt.Errorf("%s: object %q is not a checkpoint", w.Name(), key)
	}
	obj, err := w.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(w.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return audit.Checkpoint{}, false, fmt.Errorf("get %s: %w", key, err)
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(io.LimitReader(obj.Body, 64<<10))
	if err != nil {
		return audit.Checkpoint{}, false, fmt.Errorf("get %s: %w", key, err)
	}
	c, err := audit.UnmarshalCheckpoint(b)
	if err != nil {
		return audit.Checkpoint{}, false, fmt.Errorf("%s: %s: %w", w.Name(), key, err)
	}
	if c.Counter != math.MaxUint64-n {
		return audit.Checkpoint{}, false, fmt.Errorf("%s: object %q holds checkpoint #%d", w.Name(), key, c.Counter)
	}
	return c, true, nil
}
