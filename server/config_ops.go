package server

import (
	"fmt"
	"net"
)

// opsProblems checks the operations settings: metrics and tracing.
func (c *Config) opsProblems() []string {
	var p []string
	if l := c.Metrics.Listen; l != "" {
		if _, _, err := net.SplitHostPort(l); err != nil {
			p = append(p, fmt.Sprintf("metrics.listen %q: %v", l, err))
		}
	}
	if e := c.Tracing.OTLPEndpoint; e != "" {
		if _, _, err := net.SplitHostPort(e); err != nil {
			p = append(p, fmt.Sprintf("tracing.otlp_endpoint %q: want host:port (%v)", e, err))
		}
	}
	return p
}
