package kmsserver

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// Record is one CloudTrail event, in CloudTrail's own format, for a call
// this server served.
type Record struct {
	EventVersion       string         `json:"eventVersion"`
	UserIdentity       UserIdentity   `json:"userIdentity"`
	EventTime          string         `json:"eventTime"`
	EventSource        string         `json:"eventSource"`
	EventName          string         `json:"eventName"`
	AWSRegion          string         `json:"awsRegion"`
	SourceIPAddress    string         `json:"sourceIPAddress"`
	UserAgent          string         `json:"userAgent"`
	ErrorCode          string         `json:"errorCode,omitempty"`
	ErrorMessage       string         `json:"errorMessage,omitempty"`
	RequestParameters  map[string]any `json:"requestParameters"`
	ResponseElements   map[string]any `json:"responseElements"`
	RequestID          string         `json:"requestID"`
	EventID            string         `json:"eventID"`
	ReadOnly           bool           `json:"readOnly"`
	Resources          []Resource     `json:"resources,omitempty"`
	EventType          string         `json:"eventType"`
	ManagementEvent    bool           `json:"managementEvent"`
	RecipientAccountID string         `json:"recipientAccountId"`
	EventCategory      string         `json:"eventCategory"`
}

// UserIdentity is CloudTrail's userIdentity for an IAM user or role.
type UserIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	AccessKeyID string `json:"accessKeyId"`
	UserName    string `json:"userName,omitempty"`
}

// Resource is one entry of a record's resources[].
type Resource struct {
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// record appends the CloudTrail record of a served call.
func (s *Server) record(r *http.Request, reqID string, c *call, kerr *kmsError) {
	rec := Record{EventVersion: "1.08", EventTime: now().Format("2006-01-02T15:04:05Z"),
		EventSource: "kms.amazonaws.com", EventName: c.op, AWSRegion: s.Region,
		SourceIPAddress: sourceIP(r), UserAgent: r.UserAgent(), RequestParameters: c.params,
		ResponseElements: c.response, RequestID: reqID, EventID: uuid.NewString(),
		ReadOnly: operations[c.op].readOnly, EventType: "AwsApiCall", ManagementEvent: true,
		RecipientAccountID: s.Account, EventCategory: "Management"}
	if len(rec.RequestParameters) == 0 {
		rec.RequestParameters = nil
	}
	if kerr != nil {
		rec.ErrorCode, rec.ErrorMessage = kerr.Type, kerr.Msg
		if len(c.resources) == 0 {
			s.resourceOf(c, keyIDOf(c.body))
		}
	}
	accessKey, _, _ := credential(r.Header.Get("Authorization"))
	s.mu.Lock()
	defer s.mu.Unlock()
	rec.UserIdentity = s.identity(accessKey)
	for _, arn := range c.resources {
		typ := "AWS::KMS::Key"
		if strings.Contains(arn, ":alias/") {
			typ = "AWS::KMS::Alias"
		}
		rec.Resources = append(rec.Resources, Resource{AccountID: s.Account, Type: typ, ARN: arn})
	}
	s.records = append(s.records, rec)
}

// resourceOf names the key a failed call asked for, if it exists.
func (s *Server) resourceOf(c *call, keyID string) {
	if keyID == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, kerr := s.resolve(keyID); kerr == nil {
		c.resources = append(c.resources, k.arn)
	}
}

// identity is the userIdentity of an access key. The caller holds s.mu.
func (s *Server) identity(accessKey string) UserIdentity {
	arn := s.principals[accessKey]
	if arn == "" {
		arn = fmt.Sprintf("arn:aws:iam::%s:user/keygate", s.Account)
	}
	id := UserIdentity{Type: "IAMUser", PrincipalID: "AIDA" + strings.ToUpper(strings.ReplaceAll(accessKey, "-", "")),
		ARN: arn, AccountID: s.Account, AccessKeyID: accessKey}
	if strings.Contains(arn, ":assumed-role/") {
		id.Type = "AssumedRole"
		id.PrincipalID = "AROA" + strings.ToUpper(accessKey) + ":" + arn[strings.LastIndex(arn, "/")+1:]
	} else {
		id.UserName = arn[strings.LastIndex(arn, "/")+1:]
	}
	return id
}

// Records returns a copy of every record so far, oldest first.
func (s *Server) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records...)
}

// WriteCloudTrail delivers the records not yet delivered as one CloudTrail
// log file under dir, laid out as a trail's S3 prefix:
// AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz
// holding gzip JSON {"Records":[...]}. It returns the file's path, or ""
// when there was nothing to deliver.
func (s *Server) WriteCloudTrail(dir string) (string, error) {
	s.mu.Lock()
	pending := append([]Record(nil), s.records[s.delivered:]...)
	s.mu.Unlock()
	if len(pending) == 0 {
		return "", nil
	}
	t := now()
	sub := filepath.Join(dir, "AWSLogs", s.Account, "CloudTrail", s.Region, t.Format("2006/01/02"))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return "", err
	}
	name := fmt.Sprintf("%s_CloudTrail_%s_%s_%s.json.gz", s.Account, s.Region, t.Format("20060102T1504Z"),
		strings.ReplaceAll(uuid.NewString(), "-", "")[:16])
	path := filepath.Join(sub, name)
	if err := writeGzipJSON(path, map[string]any{"Records": pending}); err != nil {
		return "", err
	}
	s.mu.Lock()
	s.delivered += len(pending)
	s.mu.Unlock()
	return path, nil
}

func writeGzipJSON(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
