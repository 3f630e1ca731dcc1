package diag

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TargetKind says how a target names an instance.
type TargetKind string

// The kinds of target.
const (
	TargetInstanceID TargetKind = "instance_id"
	TargetPublicIP   TargetKind = "public_ip"
	TargetName       TargetKind = "name"
)

// Target is a parsed diagnosis target.
type Target struct {
	Raw  string
	Kind TargetKind
}

// Query returns the instance query that resolves t.
func (t Target) Query() InstanceQuery {
	switch t.Kind {
	case TargetInstanceID:
		return InstanceQuery{ID: t.Raw}
	case TargetPublicIP:
		return InstanceQuery{PublicIP: t.Raw}
	}
	return InstanceQuery{Name: t.Raw}
}

// TargetExample is a valid target, shown in usage errors.
const TargetExample = "ins-abc12345"

var (
	instanceIDPattern = regexp.MustCompile(`^ins-[a-z0-9]{8}$`)
	otherCloudID      = regexp.MustCompile(`^i-[0-9a-zA-Z]+$`)
	otherTencentID    = regexp.MustCompile(`^(sg|eip|img|vpc|subnet|lhins|disk|eni)-[0-9a-zA-Z]+$`)
	dottedNumbers     = regexp.MustCompile(`^[0-9.]+$`)
)

// maxNameLen bounds an instance name (Tencent allows 128 characters).
const maxNameLen = 128

// ParseTarget parses what a user typed into a Target: an instance ID
// ("ins-" + 8 lowercase letters or digits), an IPv4 address, or an instance
// name. The error explains what was wrong and shows a valid example.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Target{}, fmt.Errorf("no target given: name an instance ID such as %s, its public IP, or its name", TargetExample)
	case instanceIDPattern.MatchString(s):
		return Target{Raw: s, Kind: TargetInstanceID}, nil
	case strings.HasPrefix(strings.ToLower(s), "ins-"):
		return Target{}, fmt.Errorf("%q is not a valid instance ID: a CVM instance ID is \"ins-\" followed by 8 lowercase letters or digits, e.g. %s", s, TargetExample)
	case otherCloudID.MatchString(s):
		return Target{}, fmt.Errorf("%q looks like an AWS or Alibaba Cloud instance ID; Tencent Cloud CVM IDs look like %s (console: Cloud Virtual Machine → Instances, ID column)", s, TargetExample)
	case otherTencentID.MatchString(s):
		return Target{}, fmt.Errorf("%q is not an instance: give the CVM instance ID (e.g. %s), its public IP, or its name", s, TargetExample)
	case dottedNumbers.MatchString(s):
		return parseIPv4(s)
	}
	if err := validName(s); err != nil {
		return Target{}, err
	}
	return Target{Raw: s, Kind: TargetName}, nil
}

func parseIPv4(s string) (Target, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil || !addr.Is4() {
		return Target{}, fmt.Errorf("%q is not a valid IPv4 address: give a public IP such as 203.0.113.10, or an instance ID such as %s", s, TargetExample)
	}
	return Target{Raw: addr.String(), Kind: TargetPublicIP}, nil
}

func validName(s string) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxNameLen {
		return fmt.Errorf("%q is not a valid instance name (at most %d characters); or give an instance ID such as %s", s, maxNameLen, TargetExample)
	}
	if strings.HasPrefix(s, "-") {
		return fmt.Errorf("unknown option %q: the target comes first, e.g. %s --port 2222", s, TargetExample)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("<>`\"'|;&$\\", r) {
			return fmt.Errorf("%q is not a valid instance name: it contains %q; give an instance ID such as %s, a public IP, or the exact name", s, r, TargetExample)
		}
	}
	return nil
}
