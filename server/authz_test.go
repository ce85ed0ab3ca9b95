package server

import (
	"context"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// `policy simulate` and enforcement build the policy's request in one
// place: for the same call they must agree on every condition key,
// kms:KeyOrigin included (simulate once left it out).
func TestSimulateBuildsTheEnforcedRequest(t *testing.T) {
	now := time.Unix(1800000000, 0)
	a := &policyAuthorizer{backendTypes: map[string]string{"hsm": "pkcs11"}, now: func() time.Time { return now }}
	for _, tc := range []struct {
		key  keys.Key
		sim  *pb.SimulatePolicyRequest
		call Call
	}{
		{keys.Key{Name: "k", Spec: keys.RSA2048, Usage: keys.SignVerify, Backend: "hsm"},
			&pb.SimulatePolicyRequest{PrincipalArn: arn("acs"), Action: "kms:Sign", SourceIp: "10.0.0.7"},
			Call{Principal: Principal{ARN: arn("acs")}, Action: "kms:Sign", Peer: "10.0.0.7:5000"}},
		{keys.Key{Name: "k", Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt, Backend: "hsm"},
			&pb.SimulatePolicyRequest{PrincipalArn: arn("acs"), Action: "kms:Encrypt", EncryptionContext: map[string]string{"t": "1"}},
			Call{Principal: Principal{ARN: arn("acs")}, Action: "kms:Encrypt"}},
		{keys.Key{Name: "k", Spec: keys.HMAC384, Usage: keys.GenerateVerifyMac, Backend: "hsm"},
			&pb.SimulatePolicyRequest{PrincipalArn: arn("acs"), Action: "kms:GenerateMac"},
			Call{Principal: Principal{ARN: arn("acs")}, Action: "kms:GenerateMac"}},
		{keys.Key{Name: "k", Spec: keys.ECCNISTP256, Usage: keys.KeyAgreement, Backend: "hsm"},
			&pb.SimulatePolicyRequest{PrincipalArn: arn("ds"), Action: "kms:DeriveSharedSecret"},
			Call{Principal: Principal{ARN: arn("ds")}, Action: "kms:DeriveSharedSecret"}},
	} {
		e := &keyring.Entry{Key: &tc.key, ARN: "arn:aws:kms:eu-west-1:" + testAccount + ":key/k"}
		sf, err := simulateFacts(tc.sim, e)
		if err != nil {
			t.Fatal(err)
		}
		c := tc.call
		c.Key = e
		d := methods["/keygate.v1.CryptoService/"+c.Action[len("kms:"):]]
		d.facts(&c, requestFor(tc.sim), e.Key)
		if c.EncContext == nil {
			c.EncContext = tc.sim.EncryptionContext
		}
		simulated, enforced := a.request(sf), a.request(c.facts())
		if !reflect.DeepEqual(simulated, enforced) {
			t.Errorf("%s on %s:\nsimulate %+v\nenforce  %+v", c.Action, tc.key.Spec, simulated, enforced)
		}
		if enforced.KeyOrigin != "AWS_CLOUDHSM" {
			t.Errorf("kms:KeyOrigin = %q", enforced.KeyOrigin)
		}
	}
}

// requestFor is the crypto request a simulation describes.
func requestFor(s *pb.SimulatePolicyRequest) any {
	switch s.Action {
	case "kms:Sign":
		return &pb.SignRequest{SigningAlgorithm: s.SigningAlgorithm, MessageType: s.MessageType}
	case "kms:Encrypt":
		return &pb.EncryptRequest{EncryptionAlgorithm: s.EncryptionAlgorithm, EncryptionContext: s.EncryptionContext}
	case "kms:GenerateMac":
		return &pb.GenerateMacRequest{MacAlgorithm: s.MacAlgorithm}
	}
	return &pb.DeriveSharedSecretRequest{}
}

// aws:CurrentTime is the server's clock, injected through Options.Now: a
// grant that ends at a date stops at that date.
func TestCurrentTimeCondition(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"` + arn("admin") + `"},"Action":["kms:*","keygate:*"],"Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"` + arn("acs") + `"},"Action":"kms:GenerateMac","Resource":"*",
	  "Condition":{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}}]}`
	for _, tc := range []struct {
		now  time.Time
		code codes.Code
	}{
		{time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), codes.OK},
		{time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC), codes.PermissionDenied},
	} {
		now := tc.now
		e := startEnvWith(t, "", nil, Options{Now: func() time.Time { return now }})
		e.createKey("av-mac", "HMAC_256", "GENERATE_VERIFY_MAC", doc)
		_, err := e.crypto("acs").GenerateMac(context.Background(), &pb.GenerateMacRequest{KeyId: "av-mac", Message: []byte("m")})
		if status.Code(err) != tc.code {
			t.Errorf("at %s: %v, want %s", now, err, tc.code)
		}
	}
}
