package e2e

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/pgtest"
)

// Two replicas on one PostgreSQL run the same sessions at once: each
// replica commits its calls' counter advances in batches (with their audit
// events), and the batches of the two replicas touch the same session rows.
// A CReq sent to both replicas at once is accepted by exactly one, a CRes
// racing it on the other replica is issued, and no batch fails (the rows
// are locked in one order, so the replicas never deadlock).
func TestChallengeTwoReplicasPostgres(t *testing.T) {
	store := &server.StoreConfig{Driver: "postgres", DSN: pgtest.DSN(t)}
	a := harness.Start(t, harness.Options{Store: store, Replica: "a"})
	b := harness.Start(t, harness.Options{Store: store, Replica: "b", Token: &a.Token})
	a.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	a.CreateKey("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	ctx := context.Background()
	pub := must(a.Crypto("acs").GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "acs-signing"}))
	leaf := must(a.CA.Sign("ACS", must(x509.ParsePKIXPublicKey(pub.PublicKey))))
	if _, err := a.Admin("admin").ImportCertificate(ctx, &pb.ImportCertificateRequest{KeyId: "acs-signing", ChainPem: chainPEM(leaf, a.CA.Cert)}); err != nil {
		t.Fatal(err)
	}
	replicas := []pb.ThreeDSServiceClient{pb.NewThreeDSServiceClient(a.Conn("acs")), pb.NewThreeDSServiceClient(b.Conn("acs"))}
	const ref = "3DS_LOA_SDK_PPFU_020100_00007"
	type open struct {
		s  *sdk
		id string
	}
	sessions := make([]open, 6)
	for i := range sessions {
		s := &sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader)), enc: "A128GCM", kid: "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"}
		resp, err := replicas[i%2].CreateAcsSession(ctx, &pb.CreateAcsSessionRequest{KeyId: "acs-signing", AcsTransId: s.kid,
			AcsUrl: "https://acs.example/challenge", SdkEphemPubKey: s.jwk(), SdkReferenceNumber: ref, Enc: s.enc})
		if err != nil {
			t.Fatal(err)
		}
		s.agree(t, resp.AcsEphemPubKey, ref)
		sessions[i] = open{s, resp.SessionId}
	}
	cres := []byte(`{"acsTransID":"8a880dc0-d2d2-4067-bcb1-b08d1690b26e","messageType":"CRes","transStatus":"Y"}`)
	for n := range 12 {
		var wg sync.WaitGroup
		results := make([][3]error, len(sessions))
		for i, o := range sessions {
			jwe, _ := o.s.creq(n)
			for r := range 2 { // the same CReq to both replicas
				wg.Go(func() {
					_, results[i][r] = replicas[r].DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: o.id, Jwe: jwe})
				})
			}
			wg.Go(func() { // and a CRes on one of them meanwhile
				_, results[i][2] = replicas[(i+n)%2].EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: o.id, Cres: cres})
			})
		}
		wg.Wait()
		for i, res := range results {
			ok := 0
			for _, err := range res[:2] {
				switch status.Code(err) {
				case codes.OK:
					ok++
				case codes.InvalidArgument:
				default:
					t.Fatalf("round %d session %d: CReq: %v", n, i, err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d session %d: %d replicas accepted the same CReq, want 1", n, i, ok)
			}
			if res[2] != nil {
				t.Fatalf("round %d session %d: CRes: %v", n, i, res[2])
			}
		}
	}
	// Every session's next CRes carries counter 12 on either replica.
	for i, o := range sessions {
		out, err := replicas[i%2].EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: o.id, Cres: cres})
		if err != nil {
			t.Fatal(err)
		}
		o.s.cres(t, out.Jwe, 12)
	}
	t.Logf("%d sessions, 12 rounds of a CReq on both replicas and a CRes on one", len(sessions))
}
