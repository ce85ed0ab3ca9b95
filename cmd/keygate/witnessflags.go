package main

import (
	"context"
	"flag"
	"strings"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/witness"
)

// witnessFlags are offline verification's view of the witnesses: the
// places outside the database where keygated published its checkpoints.
type witnessFlags struct {
	file, s3, endpoint *string
	maxAge             *time.Duration
}

func (w *witnessFlags) setup(fs *flag.FlagSet) {
	w.file = fs.String("witness-file", "", "compare the store with this witness file (audit.witness.file)")
	w.s3 = fs.String("witness-s3", "", "compare the store with this witness bucket: s3://BUCKET/PREFIX (AWS credentials from the environment)")
	w.endpoint = fs.String("witness-s3-endpoint", "", "S3 endpoint URL for --witness-s3 (path-style addressing)")
	w.maxAge = fs.Duration("max-age", 0, "flag a newest checkpoint older than this (checkpoint_interval plus checkpoint_slack)")
}

func (w *witnessFlags) set() bool {
	return *w.file != "" || *w.s3 != "" || *w.maxAge != 0
}

func (w *witnessFlags) options(ctx context.Context) (audit.VerifyOptions, error) {
	o := audit.VerifyOptions{MaxAge: *w.maxAge}
	if *w.maxAge < 0 {
		return o, usageErr("--max-age must not be negative")
	}
	if *w.file != "" {
		o.Witnesses = append(o.Witnesses, witness.NewFile(*w.file))
	}
	if *w.endpoint != "" && *w.s3 == "" {
		return o, usageErr("--witness-s3-endpoint goes with --witness-s3")
	}
	if *w.s3 != "" {
		rest, ok := strings.CutPrefix(*w.s3, "s3://")
		bucket, prefix, _ := strings.Cut(rest, "/")
		if !ok || bucket == "" {
			return o, usageErr("--witness-s3 %q: want s3://BUCKET/PREFIX", *w.s3)
		}
		s3w, err := witness.NewS3(ctx, witness.S3Config{Bucket: bucket, Prefix: prefix, Endpoint: *w.endpoint, PathStyle: *w.endpoint != ""})
		if err != nil {
			return o, err
		}
		o.Witnesses = append(o.Witnesses, s3w)
	}
	return o, nil
}
