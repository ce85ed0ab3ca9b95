package server

import (
	"errors"
	"net"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// HealthConfig configures the plaintext health listener.
type HealthConfig struct {
	// Listen is a plaintext gRPC address serving only grpc.health.v1, for
	// a kubelet's grpc probe (which presents no client certificate), e.g.
	// 0.0.0.0:8081; empty (the default) serves none. It answers exactly
	// what the main listener's health service answers: the same statuses,
	// set in one place.
	Listen string `yaml:"listen"`
}

// ServeHealth answers grpc.health.v1 on lis, in plaintext, until Shutdown.
// No other service is registered there, and nothing about keys or callers
// is reachable through it.
func (s *Server) ServeHealth(lis net.Listener) error {
	if err := s.healthGRPC.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// newHealthGRPC is the health listener's server: the main server's health
// service and nothing else.
func (s *Server) newHealthGRPC() {
	s.healthGRPC = grpc.NewServer()
	healthpb.RegisterHealthServer(s.healthGRPC, s.health)
}
