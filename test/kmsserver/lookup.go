package kmsserver

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// CloudTrail's LookupEvents, served beside KMS on the same endpoint
// (X-Amz-Target: CloudTrail_20131101.LookupEvents, signed for the
// cloudtrail service) from the records the server keeps, so the events an
// SDK client looks up are the ones WriteCloudTrail delivers as trail files.
// As in CloudTrail: newest first, at most 50 per page (default 50), one
// lookup attribute, an opaque NextToken bound to the request, and 2
// requests per second per account and region, beyond which the answer is
// ThrottlingException.

const (
	cloudTrailTarget = "CloudTrail_20131101."
	lookupMaxResults = 50
	// LookupRate is CloudTrail's LookupEvents limit, requests per second.
	LookupRate = 2
)

// lookupRequest is LookupEvents' input as the SDK sends it (times are
// epoch seconds).
type lookupRequest struct {
	LookupAttributes []struct{ AttributeKey, AttributeValue string }
	StartTime        *float64
	EndTime          *float64
	MaxResults       *int
	NextToken        *string
	EventCategory    *string
}

// lookupEvent is one entry of LookupEvents' Events.
type lookupEvent struct {
	EventId         string
	EventName       string
	ReadOnly        string
	AccessKeyId     string  `json:",omitempty"`
	EventTime       float64 // epoch seconds
	EventSource     string
	Username        string           `json:",omitempty"`
	Resources       []lookupResource `json:",omitempty"`
	CloudTrailEvent string           // the whole record, as a JSON string
}

type lookupResource struct{ ResourceType, ResourceName string }

// DropRecord removes the record of the call with this request id, as if
// CloudTrail had lost it: LookupEvents no longer returns it and
// WriteCloudTrail no longer delivers it. It reports whether it was there.
func (s *Server) DropRecord(requestID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.records {
		if r.RequestID == requestID {
			s.records = append(s.records[:i], s.records[i+1:]...)
			if i < s.delivered {
				s.delivered--
			}
			return true
		}
	}
	return false
}

// SetLookupLimiter replaces LookupEvents' 2 requests/s limit (nil removes
// it), for tests that look up more than a few pages.
func (s *Server) SetLookupLimiter(l *rate.Limiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookupLimit = l
}

// serveCloudTrail answers a CloudTrail_20131101.* request.
func (s *Server) serveCloudTrail(w http.ResponseWriter, r *http.Request) {
	out, cerr := s.lookup(r)
	if cerr != nil {
		w.WriteHeader(cerr.status())
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": cerr.Type, "message": cerr.Msg})
		return
	}
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) lookup(r *http.Request) (any, *kmsError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, errf("UnknownOperationException", "POST / expected")
	}
	if op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), cloudTrailTarget); op != "LookupEvents" {
		return nil, errf("UnknownOperationException", "operation %s is not served", op)
	}
	auth := r.Header.Get("Authorization")
	accessKey, scope, ok := credential(auth)
	if !ok || !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") {
		return nil, errf("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	if parts := strings.Split(scope, "/"); len(parts) != 4 || parts[1] != s.Region || parts[2] != "cloudtrail" {
		return nil, errf("InvalidSignatureException", "Credential should be scoped to region %s and service cloudtrail, got %s", s.Region, scope)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return nil, errf("SerializationException", "request body too large or unreadable")
	}
	s.mu.Lock()
	secret, known := s.secrets[accessKey]
	limit := s.lookupLimit
	s.mu.Unlock()
	if known && !verifySignature(r, body, auth, secret) {
		return nil, errf("InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
	}
	if limit != nil && !limit.Allow() {
		return nil, errf("ThrottlingException", "Rate exceeded")
	}
	if kerr := s.injected(r, "LookupEvents"); kerr != nil {
		return nil, kerr
	}
	var req lookupRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, errf("SerializationException", "%v", err)
	}
	return s.lookupPage(&req)
}

// lookupPage filters the records and cuts one page.
func (s *Server) lookupPage(req *lookupRequest) (any, *kmsError) {
	if req.EventCategory != nil && *req.EventCategory != "insight" {
		return nil, errf("InvalidEventCategoryException", "EventCategory must be insight")
	}
	if len(req.LookupAttributes) > 1 {
		return nil, errf("InvalidLookupAttributesException", "You can specify only one lookup attribute.")
	}
	max := lookupMaxResults
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > lookupMaxResults {
			return nil, errf("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
		}
		max = *req.MaxResults
	}
	var start, end time.Time
	if req.StartTime != nil {
		start = fromEpoch(*req.StartTime)
	}
	if req.EndTime != nil {
		end = fromEpoch(*req.EndTime)
	}
	if !start.IsZero() && !end.IsZero() && start.After(end) {
		return nil, errf("InvalidTimeRangeException", "Start time must be before end time.")
	}
	match := func(Record) bool { return true }
	if len(req.LookupAttributes) == 1 {
		var kerr *kmsError
		if match, kerr = attributeMatcher(req.LookupAttributes[0].AttributeKey, req.LookupAttributes[0].AttributeValue); kerr != nil {
			return nil, kerr
		}
	}
	// The token names the request it continues and the newest event time
	// and id not yet returned, so records arriving meanwhile are not mixed in.
	sig := fmt.Sprintf("%v|%v|%v", req.LookupAttributes, start.UnixNano(), end.UnixNano())
	skip := 0
	if req.NextToken != nil {
		raw, err := base64.RawURLEncoding.DecodeString(*req.NextToken)
		parts := strings.SplitN(string(raw), "\n", 2)
		n, nerr := 0, error(nil)
		if len(parts) == 2 {
			n, nerr = strconv.Atoi(parts[0])
		}
		if err != nil || len(parts) != 2 || nerr != nil || parts[1] != sig || n < 0 {
			return nil, errf("InvalidNextTokenException", "Invalid NextToken.")
		}
		skip = n
	}
	s.mu.Lock()
	var hits []Record
	for i := len(s.records) - 1; i >= 0; i-- { // newest first
		rec := s.records[i]
		t, _ := time.Parse(time.RFC3339, rec.EventTime)
		if (!start.IsZero() && t.Before(start)) || (!end.IsZero() && t.After(end)) || !match(rec) {
			continue
		}
		hits = append(hits, rec)
	}
	s.mu.Unlock()
	out := struct {
		Events    []lookupEvent
		NextToken string `json:",omitempty"`
	}{Events: []lookupEvent{}}
	for _, rec := range hits[min(skip, len(hits)):min(skip+max, len(hits))] {
		out.Events = append(out.Events, toLookupEvent(rec))
	}
	if skip+max < len(hits) {
		out.NextToken = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d\n%s", skip+max, sig))
	}
	return out, nil
}

// attributeMatcher is one LookupAttribute as a filter.
func attributeMatcher(key, value string) (func(Record) bool, *kmsError) {
	switch key {
	case "EventSource":
		return func(r Record) bool { return r.EventSource == value }, nil
	case "EventName":
		return func(r Record) bool { return r.EventName == value }, nil
	case "EventId":
		return func(r Record) bool { return r.EventID == value }, nil
	case "Username":
		return func(r Record) bool { return userName(r) == value }, nil
	case "AccessKeyId":
		return func(r Record) bool { return r.UserIdentity.AccessKeyID == value }, nil
	case "ReadOnly":
		return func(r Record) bool { return strconv.FormatBool(r.ReadOnly) == value }, nil
	case "ResourceType", "ResourceName":
		return func(r Record) bool {
			for _, res := range r.Resources {
				if (key == "ResourceType" && res.Type == value) || (key == "ResourceName" && res.ARN == value) {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, errf("InvalidLookupAttributesException", "Invalid attribute key: %s", key)
}

func toLookupEvent(rec Record) lookupEvent {
	raw, _ := json.Marshal(rec)
	t, _ := time.Parse(time.RFC3339, rec.EventTime)
	ev := lookupEvent{EventId: rec.EventID, EventName: rec.EventName, ReadOnly: strconv.FormatBool(rec.ReadOnly),
		AccessKeyId: rec.UserIdentity.AccessKeyID, EventTime: float64(t.Unix()), EventSource: rec.EventSource,
		Username: userName(rec), CloudTrailEvent: string(raw)}
	for _, res := range rec.Resources {
		ev.Resources = append(ev.Resources, lookupResource{ResourceType: res.Type, ResourceName: res.ARN})
	}
	return ev
}

// userName is LookupEvents' Username: the user name, or the role session.
func userName(r Record) string {
	if r.UserIdentity.UserName != "" {
		return r.UserIdentity.UserName
	}
	arn := r.UserIdentity.ARN
	return arn[strings.LastIndex(arn, "/")+1:]
}

func fromEpoch(sec float64) time.Time {
	return time.Unix(0, int64(sec*1e9)).UTC()
}
