package kmsserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"

	"github.com/keygate/keygate/test/kmsserver"
)

// TestLookupEvents looks the served calls up with the real CloudTrail
// client: every page, newest first, the record itself as CloudTrailEvent.
func TestLookupEvents(t *testing.T) {
	srv := kmsserver.New(t)
	srv.SetLookupLimiter(nil)
	ctx := context.Background()
	k := kms.NewFromConfig(srv.AWSConfig())
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := k.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: key.KeyMetadata.KeyId, Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"}); err != nil {
			t.Fatal(err)
		}
	}
	ct := cloudtrail.NewFromConfig(srv.AWSConfig())
	in := &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(2), StartTime: aws.Time(time.Now().Add(-time.Hour)),
		EndTime: aws.Time(time.Now().Add(time.Hour)), LookupAttributes: []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyEventSource, AttributeValue: aws.String("kms.amazonaws.com")}}}
	var got []cttypes.Event
	pages := 0
	for p := cloudtrail.NewLookupEventsPaginator(ct, in); p.HasMorePages(); pages++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Events...)
	}
	recs := srv.Records()
	if len(got) != 5 || len(recs) != 5 || pages != 3 {
		t.Fatalf("%d events in %d pages, %d records", len(got), pages, len(recs))
	}
	for i, ev := range got {
		want := recs[len(recs)-1-i] // newest first
		var rec kmsserver.Record
		if err := json.Unmarshal([]byte(aws.ToString(ev.CloudTrailEvent)), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.RequestID != want.RequestID || aws.ToString(ev.EventId) != want.EventID || aws.ToString(ev.EventName) != want.EventName ||
			ev.EventTime.UTC().Format(time.RFC3339) != want.EventTime || aws.ToString(ev.ReadOnly) != strconv.FormatBool(want.ReadOnly) {
			t.Fatalf("event %d: %+v, want %+v", i, ev, want)
		}
		if want.EventName == "GenerateMac" && (len(ev.Resources) != 1 || aws.ToString(ev.Resources[0].ResourceName) != aws.ToString(key.KeyMetadata.Arn)) {
			t.Fatalf("resources %+v", ev.Resources)
		}
	}

	// One attribute, a valid range, a token for this request only.
	for _, tc := range []struct {
		in   *cloudtrail.LookupEventsInput
		code string
	}{
		{&cloudtrail.LookupEventsInput{StartTime: aws.Time(time.Now()), EndTime: aws.Time(time.Now().Add(-time.Hour))}, "InvalidTimeRangeException"},
		{&cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: "EventName", AttributeValue: aws.String("Sign")},
			{AttributeKey: "EventSource", AttributeValue: aws.String("kms.amazonaws.com")}}}, "InvalidLookupAttributesException"},
		{&cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
		{&cloudtrail.LookupEventsInput{NextToken: aws.String("bm90IGEgdG9rZW4")}, "InvalidNextTokenException"},
	} {
		_, err := ct.LookupEvents(ctx, tc.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
			t.Errorf("%+v: %v, want %s", tc.in, err, tc.code)
		}
	}

	// A dropped record is gone from lookups and from trail files alike.
	if !srv.DropRecord(recs[2].RequestID) {
		t.Fatal("DropRecord found nothing")
	}
	out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if err != nil || len(out.Events) != 4 {
		t.Fatalf("after drop: %d events, %v", len(out.Events), err)
	}
}

// TestLookupThrottled: past the rate, ThrottlingException, which the SDK
// counts as throttling.
func TestLookupThrottled(t *testing.T) {
	srv := kmsserver.New(t)
	srv.SetLookupLimiter(rate.NewLimiter(rate.Every(time.Hour), 2)) // two, then none for the test's life
	ct := cloudtrail.NewFromConfig(srv.AWSConfig(), func(o *cloudtrail.Options) { o.Retryer = aws.NopRetryer{} })
	for i := range 3 {
		_, err := ct.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{})
		var ae smithy.APIError
		switch {
		case i < 2 && err != nil:
			t.Fatalf("call %d: %v", i, err)
		case i == 2 && (!errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException"):
			t.Fatalf("third call: %v, want ThrottlingException", err)
		}
	}
}
