package server

import (
	"fmt"
	"net"
)

// opsProblems checks the operations settings: the metrics listener.
func (c *Config) opsProblems() []string {
	var p []string
	if l := c.Metrics.Listen; l != "" {
		if _, _, err := net.SplitHostPort(l); err != nil {
			p = append(p, fmt.Sprintf("metrics.listen %q: %v", l, err))
		}
	}
	return p
}
