package server

import (
	"fmt"
	"net"
	"time"
)

func (c *Config) opsDefaults() {
	if c.ReloadInterval == 0 {
		c.ReloadInterval = 5 * time.Second
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 10 * time.Second
	}
}

// opsProblems checks the operations settings.
func (c *Config) opsProblems() []string {
	var p []string
	for _, l := range [][2]string{{"metrics.listen", c.Metrics.Listen}, {"health.listen", c.Health.Listen}} {
		if l[1] == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(l[1]); err != nil {
			p = append(p, fmt.Sprintf("%s %q: %v", l[0], l[1], err))
		}
	}
	if e := c.Tracing.OTLPEndpoint; e != "" {
		if _, _, err := net.SplitHostPort(e); err != nil {
			p = append(p, fmt.Sprintf("tracing.otlp_endpoint %q: want host:port (%v)", e, err))
		}
	}
	if c.ReloadInterval < 0 || c.ShutdownGrace < 0 {
		p = append(p, "reload_interval and shutdown_grace must not be negative")
	}
	return p
}
