package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/client"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

const limitsYAML = "limits: {max_in_flight: 4, max_in_flight_per_principal: 2, retry_after: 1500ms}\n"

// Beyond a principal's limit its calls are refused ResourceExhausted at
// once with the retry-after trailer, while another principal is served;
// beyond the global limit everyone is refused. Slots are held through the
// admission itself, so the test decides what is in flight.
func TestInFlightLimits(t *testing.T) {
	e := startEnv(t, limitsYAML)
	e.createKey("mac", "HMAC_256", "GENERATE_VERIFY_MAC",
		policyDoc(map[string][]string{arn("acs"): {"kms:GenerateMac"}, arn("ds"): {"kms:GenerateMac"}}))
	ctx := context.Background()
	req := &pb.GenerateMacRequest{KeyId: "mac", Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"}
	acs, ds := e.crypto("acs"), e.crypto("ds")

	var held []func()
	hold := func(principal string) {
		leave, err := e.srv.admission.enter(principal)
		must(t, err)
		held = append(held, leave)
	}
	hold(arn("acs"))
	hold(arn("acs"))
	var trailer metadata.MD
	_, err := acs.GenerateMac(ctx, req, grpc.Trailer(&trailer))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("acs beyond its limit: %v, want ResourceExhausted", err)
	}
	if got := trailer.Get("grpc-retry-pushback-ms"); len(got) != 1 || got[0] != "1500" {
		t.Fatalf("retry-after trailer: %v", got)
	}
	if _, err := ds.GenerateMac(ctx, req); err != nil {
		t.Fatalf("ds while acs is at its limit: %v", err)
	}
	hold(arn("ds"))
	hold(arn("ds"))
	if _, err := ds.GenerateMac(ctx, req); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("ds at the global limit: %v", err)
	}
	if l := e.srv.Load(); l.InFlight != 4 || l.Shed != 2 {
		t.Fatalf("Load: %+v, want 4 in flight and 2 shed", l)
	}
	for _, leave := range held {
		leave()
	}
	if _, err := acs.GenerateMac(ctx, req); err != nil {
		t.Fatalf("acs after the slots freed: %v", err)
	}
	if l := e.srv.Load(); l.InFlight != 0 {
		t.Fatalf("in flight after every call ended: %d", l.InFlight)
	}
}

// The client package's retry honours the pushback: a call refused at the
// limit is tried again after the hint and succeeds once a slot is free,
// inside its deadline.
func TestClientHonoursPushback(t *testing.T) {
	e := startEnv(t, limitsYAML)
	e.createKey("mac", "HMAC_256", "GENERATE_VERIFY_MAC", policyDoc(map[string][]string{arn("acs"): {"kms:GenerateMac"}}))
	cert, _ := e.cert("acs", uriOf("acs"))
	roots := x509.NewCertPool()
	roots.AddCert(e.ca.Cert)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, e.addr, client.WithTLSConfig(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots,
		Certificates: []tls.Certificate{cert}}), client.WithMaxAttempts(5))
	must(t, err)
	defer c.Close()
	leave1, err := e.srv.admission.enter(arn("acs"))
	must(t, err)
	leave2, err := e.srv.admission.enter(arn("acs"))
	must(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := c.Crypto.GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "mac", Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"})
		done <- err
	}()
	for e.srv.Load().Shed == 0 {
		select {
		case err := <-done:
			t.Fatalf("call ended before it was refused: %v", err)
		case <-ctx.Done():
			t.Fatal("the call was never refused")
		case <-time.After(time.Millisecond):
		}
	}
	leave1()
	leave2()
	if err := <-done; err != nil {
		t.Fatalf("retried call: %v", err)
	}
}

// A principal over its rate is refused ResourceExhausted before any work,
// with the time until its next call as the hint, while another principal
// still has its own bucket. The rate is one call in a thousand seconds, so
// no token comes back during the test however slow the machine is.
func TestRatePerPrincipal(t *testing.T) {
	e := startEnv(t, "limits: {rate_per_principal: 0.001, burst_per_principal: 2}\n")
	e.createKey("mac", "HMAC_256", "GENERATE_VERIFY_MAC",
		policyDoc(map[string][]string{arn("acs"): {"kms:GenerateMac"}, arn("ds"): {"kms:GenerateMac"}}))
	ctx := context.Background()
	req := &pb.GenerateMacRequest{KeyId: "mac", Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"}
	acs, ds := e.crypto("acs"), e.crypto("ds")
	for i := range 2 {
		if _, err := acs.GenerateMac(ctx, req); err != nil {
			t.Fatalf("acs call %d within its burst: %v", i+1, err)
		}
	}
	var trailer metadata.MD
	_, err := acs.GenerateMac(ctx, req, grpc.Trailer(&trailer))
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "rate") {
		t.Fatalf("acs over its rate: %v, want ResourceExhausted naming the rate", err)
	}
	got := trailer.Get("grpc-retry-pushback-ms")
	if ms, perr := strconv.Atoi(strings.Join(got, "")); len(got) != 1 || perr != nil || ms < 100_000 || ms > 1_000_000 {
		t.Fatalf("retry-after trailer %v, want the time to acs's next token (up to 1000 s)", got)
	}
	for i := range 2 {
		if _, err := ds.GenerateMac(ctx, req); err != nil {
			t.Fatalf("ds call %d while acs is over its rate: %v", i+1, err)
		}
	}
	if l := e.srv.Load(); l.Shed != 1 || l.InFlight != 0 {
		t.Fatalf("Load: %+v, want 1 shed and none in flight", l)
	}
}

func TestRateConfig(t *testing.T) {
	for _, bad := range []LimitsConfig{{RatePerPrincipal: -1}, {BurstPerPrincipal: 3}, {RatePerPrincipal: 1, BurstPerPrincipal: -1}} {
		bad.defaults()
		if len(bad.problems()) == 0 {
			t.Errorf("%+v accepted", bad)
		}
	}
	l := LimitsConfig{RatePerPrincipal: 2.5}
	l.defaults()
	if l.BurstPerPrincipal != 3 || len(l.problems()) != 0 {
		t.Errorf("rate 2.5 without a burst: burst %d, problems %v; want 3 and none", l.BurstPerPrincipal, l.problems())
	}
}
