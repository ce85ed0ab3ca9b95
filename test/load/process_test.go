package load

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"gopkg.in/yaml.v3"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// processConfig is env's config with another listen address and quiet logs.
func processConfig(b *testing.B, env *harness.Env, addr string) string {
	c := *env.Config
	c.Listen = addr
	c.Log = server.LogConfig{Level: "warn", Format: "json"}
	out, err := yaml.Marshal(&c)
	if err != nil {
		b.Fatal(err)
	}
	return string(out)
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func dial(b *testing.B, env *harness.Env, addr string) *grpc.ClientConn {
	ca, cert, key := env.TLSFiles("acs")
	cfg, err := server.ClientTLS(ca, cert, key)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

func waitReady(b *testing.B, env *harness.Env, addr string) {
	conn := dial(b, env, addr)
	cs := pb.NewCryptoServiceClient(conn)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cs.GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "bench-signing"})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("keygated did not come up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
