package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"golang.org/x/time/rate"

	"github.com/keygate/keygate/internal/kgerr"
)

// LookupAPI is the one CloudTrail call the lookup source makes (the SDK
// client implements it).
type LookupAPI interface {
	LookupEvents(ctx context.Context, in *cloudtrail.LookupEventsInput, opts ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error)
}

// LookupRetention is how far back LookupEvents reaches.
const LookupRetention = 90 * 24 * time.Hour

// Lookup reads KMS events through CloudTrail's LookupEvents, every page,
// at most 2 requests a second (CloudTrail's limit per account and region).
type Lookup struct {
	api      LookupAPI
	limit    *rate.Limiter
	progress func(string, ...any)
}

// NewLookup wraps a CloudTrail client; progress (may be nil) gets a line
// every 20 pages.
func NewLookup(api LookupAPI, progress func(string, ...any)) *Lookup {
	return &Lookup{api: api, limit: rate.NewLimiter(2, 1), progress: progress}
}

// LookupRetryer is the retryer a CloudTrail client for Lookup should use:
// ThrottlingException retried with exponential backoff up to 30s, 10
// attempts, without the SDK's client-side retry quota (which a long
// throttled walk would exhaust).
func LookupRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 10
		o.MaxBackoff = 30 * time.Second
		o.RateLimiter = ratelimit.None
	})
}

func (l *Lookup) Name() string { return "CloudTrail LookupEvents" }

func (l *Lookup) Check(since, until, now time.Time) error {
	if since.Before(now.Add(-LookupRetention)) {
		return kgerr.Errorf(kgerr.InvalidArgument, "since: LookupEvents reaches back 90 days only (to %s); read the trail's log files (--trail-dir, --trail-s3) for older windows",
			now.Add(-LookupRetention).UTC().Format(time.RFC3339))
	}
	return nil
}

func (l *Lookup) Events(ctx context.Context, since, until time.Time, fn func(*Event) error, bad func(Problem)) error {
	in := &cloudtrail.LookupEventsInput{StartTime: aws.Time(since), EndTime: aws.Time(until), MaxResults: aws.Int32(50),
		LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventSource, AttributeValue: aws.String(kmsSource)}}}
	for page := 1; ; page++ {
		if err := l.limit.Wait(ctx); err != nil {
			return err
		}
		out, err := l.api.LookupEvents(ctx, in)
		if err != nil {
			return fmt.Errorf("LookupEvents page %d: %w", page, err)
		}
		for _, e := range out.Events {
			where := "LookupEvents event " + aws.ToString(e.EventId)
			ev, err := Parse([]byte(aws.ToString(e.CloudTrailEvent)))
			if err != nil {
				bad(Problem{Where: where, Why: err.Error()})
				continue
			}
			// EndTime is inclusive, and the record's time is to the second.
			if ev.Time.Before(since) || !ev.Time.Before(until) {
				continue
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
		if page%20 == 0 && l.progress != nil {
			l.progress("LookupEvents: %d pages read", page)
		}
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
}
