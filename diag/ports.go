package diag

import (
	"fmt"
	"strconv"
	"strings"
)

// PortSpec is a parsed security-group Port field: "ALL", a single port
// ("22"), a range ("8000-8010") or a comma list of those ("22,80,443").
// The zero value matches nothing.
type PortSpec struct {
	all    bool
	ranges [][2]int
}

// ParsePortSpec parses a security-group Port field. An empty field means all
// ports, as the API returns for protocols without ports.
func ParsePortSpec(s string) (PortSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "all") {
		return PortSpec{all: true}, nil
	}
	var spec PortSpec
	for part := range strings.SplitSeq(s, ",") {
		r, err := parsePortRange(strings.TrimSpace(part))
		if err != nil {
			return PortSpec{}, fmt.Errorf("port spec %q: %w", s, err)
		}
		spec.ranges = append(spec.ranges, r)
	}
	return spec, nil
}

func parsePortRange(s string) ([2]int, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	first, err := parsePort(lo)
	if err != nil {
		return [2]int{}, err
	}
	if !isRange {
		return [2]int{first, first}, nil
	}
	last, err := parsePort(hi)
	if err != nil {
		return [2]int{}, err
	}
	if last < first {
		return [2]int{}, fmt.Errorf("range %q ends before it starts", s)
	}
	return [2]int{first, last}, nil
}

// parsePort parses a TCP/UDP port number, 1 to 65535.
func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return n, nil
}

// All reports whether the spec covers every port.
func (p PortSpec) All() bool { return p.all }

// Contains reports whether port is covered by the spec.
func (p PortSpec) Contains(port int) bool {
	if p.all {
		return true
	}
	for _, r := range p.ranges {
		if port >= r[0] && port <= r[1] {
			return true
		}
	}
	return false
}
