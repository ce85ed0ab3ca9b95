package e2e

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// A keygated killed with SIGKILL while it runs challenge sessions loses
// no answered 3DS call, and no counter goes back: a session's counter
// advance commits with the call's audit event, so after a restart every
// answered CreateAcsSession, CReq and CRes is in the log, every answered
// CReq stays refused as a replay, and the next CRes gets a counter (an
// A128GCM IV) above every one already released.
func TestCrashThreeDSCountersNeverGoBack(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	env.CreateKey("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	env.CertifyKey("acs-signing", "ACS")
	ctx := context.Background()
	stopServer(t, env) // from here on only the keygated process runs
	p := env.StartProcess(nil)
	tds := pb.NewThreeDSServiceClient(env.ProcessConn(p, "acs"))
	const ref = "3DS_LOA_SDK_PPFU_020100_00007"

	// What each worker's session saw answered before the kill.
	type seen struct {
		s        *sdk
		id       string
		lastCReq string // the last CReq JWE answered
		lastCRes int    // the last CRes counter answered, -1 for none
	}
	var (
		mu       sync.Mutex
		answered []string // correlation ids
		ok       atomic.Int64
		wg       sync.WaitGroup
		killed   = make(chan struct{})
		kill     sync.Once
	)
	sessions := make([]*seen, 8)
	call := func(w, i int, op string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "x-request-id", fmt.Sprintf("crash3ds-%d-%d-%s", w, i, op))
	}
	done := func(cctx context.Context) {
		md, _ := metadata.FromOutgoingContext(cctx)
		mu.Lock()
		answered = append(answered, md.Get("x-request-id")[0])
		mu.Unlock()
		if ok.Add(1) == 300 {
			kill.Do(func() { p.Kill(); close(killed) })
		}
	}
	for w := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader)), enc: "A128GCM", kid: "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"}
			cctx := call(w, 0, "create")
			resp, err := tds.CreateAcsSession(cctx, &pb.CreateAcsSessionRequest{KeyId: "acs-signing", AcsTransId: s.kid,
				AcsUrl: "https://acs.example/challenge", SdkEphemPubKey: s.jwk(), SdkReferenceNumber: ref, Enc: s.enc})
			if err != nil {
				t.Errorf("worker %d: CreateAcsSession before the kill: %v", w, err)
				return
			}
			done(cctx)
			s.agree(t, resp.AcsEphemPubKey, ref)
			st := &seen{s: s, id: resp.SessionId, lastCRes: -1}
			mu.Lock()
			sessions[w] = st
			mu.Unlock()
			for n := 0; n < 256; n++ {
				select {
				case <-killed:
					return
				default:
				}
				jwe, _ := s.creq(n)
				cctx := call(w, n, "creq")
				if _, err := tds.DecryptChallengeRequest(cctx, &pb.DecryptChallengeRequestRequest{SessionId: st.id, Jwe: jwe}); err != nil {
					return // in flight when the process died, or refused since
				}
				mu.Lock()
				st.lastCReq = jwe
				mu.Unlock()
				done(cctx)
				cctx = call(w, n, "cres")
				cres := []byte(fmt.Sprintf(`{"acsTransID":"%s","messageType":"CRes","transStatus":"Y"}`, s.kid))
				out, err := tds.EncryptChallengeResponse(cctx, &pb.EncryptChallengeResponseRequest{SessionId: st.id, Cres: cres})
				if err != nil {
					return
				}
				if iv, _ := b64.DecodeString(strings.Split(out.Jwe+"....", ".")[2]); len(iv) != 12 || int(iv[11]) != n {
					t.Errorf("worker %d: CRes %d has IV %x", w, n, iv)
					return
				}
				mu.Lock()
				st.lastCRes = n
				mu.Unlock()
				done(cctx)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	p2 := env.StartProcess(nil)
	conn := env.ProcessConn(p2, "admin")
	auditc := pb.NewAuditServiceClient(conn)
	v, err := auditc.VerifyLog(ctx, &pb.VerifyLogRequest{})
	if err != nil || !v.Ok {
		t.Fatalf("VerifyLog after the crash: %+v %v", v, err)
	}
	logged := harness.LoggedCalls(t, auditc, "keygate:CreateAcsSession", "keygate:DecryptChallengeRequest", "keygate:EncryptChallengeResponse")
	for _, id := range answered {
		if !logged[id] {
			t.Errorf("%s was answered but is not in the audit log", id)
		}
	}

	tds = pb.NewThreeDSServiceClient(env.ProcessConn(p2, "acs"))
	checked := 0
	for w, st := range sessions {
		if st == nil || st.lastCReq == "" {
			continue
		}
		_, err := tds.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: st.id, Jwe: st.lastCReq})
		if code := status.Code(err); code != codes.InvalidArgument {
			t.Errorf("worker %d: the last answered CReq after the restart: %v, want InvalidArgument (a replay)", w, err)
		}
		cres := []byte(fmt.Sprintf(`{"acsTransID":"%s","messageType":"CRes","transStatus":"Y"}`, st.s.kid))
		out, err := tds.EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: st.id, Cres: cres})
		if err != nil {
			t.Fatalf("worker %d: CRes after the restart: %v", w, err)
		}
		iv := must(b64.DecodeString(strings.Split(out.Jwe, ".")[2]))
		if n := int(iv[11]); n <= st.lastCRes {
			t.Errorf("worker %d: CRes counter %d after the restart; %d was already released", w, n, st.lastCRes)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no session answered a challenge before the kill")
	}
	t.Logf("%d answered 3DS calls, all in the log; %d sessions' counters checked after the crash", len(answered), checked)
}
