package tencentsim

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// maxPoliciesPerDirection is the per-direction rule quota of a group.
const maxPoliciesPerDirection = 100

// protocols maps the accepted spellings of a rule protocol to how the API
// writes them back.
var protocols = map[string]string{
	"TCP": "TCP", "UDP": "UDP", "ICMP": "ICMP", "ICMPV6": "ICMPv6", "GRE": "GRE", "ALL": "ALL",
}

// direction is Ingress or Egress, as named in SecurityGroupPolicySet.
type direction string

const (
	ingress direction = "Ingress"
	egress  direction = "Egress"
)

// hasPorts reports whether a protocol takes a Port.
func hasPorts(protocol string) bool {
	p := strings.ToUpper(strings.TrimSpace(protocol))
	return p == "TCP" || p == "UDP"
}

// check validates a rule as CreateSecurityGroupPolicies does. Scenario files
// may also write Port ALL for protocols without ports.
func (r Rule) check(inScenario bool) error {
	if err := r.checkService(inScenario); err != nil {
		return err
	}
	if !slices.Contains([]string{actionAccept, actionDrop}, strings.ToUpper(strings.TrimSpace(r.Action))) {
		return apiErrorf(codeInvalidValue, "Action %q must be ACCEPT or DROP", r.Action)
	}
	return r.checkSource()
}

func (r Rule) checkService(inScenario bool) error {
	if r.ServiceTemplate != "" {
		if r.Protocol != "" || r.Port != "" {
			return apiErrorf("InvalidParameter.Coexist", "ServiceTemplate replaces Protocol and Port")
		}
		if !hasAnyPrefix(r.ServiceTemplate, "ppm-", "ppmg-") {
			return apiErrorf(codeInvalidValue, "ServiceTemplate %q is not a ppm- or ppmg- ID", r.ServiceTemplate)
		}
		return nil
	}
	if _, ok := protocols[strings.ToUpper(strings.TrimSpace(r.Protocol))]; !ok {
		return apiErrorf(codeInvalidValue, "Protocol %q must be TCP, UDP, ICMP, ICMPv6, GRE or ALL", r.Protocol)
	}
	switch {
	case r.Port == "":
		return nil
	case hasPorts(r.Protocol):
		if _, ok := parsePorts(r.Port); !ok {
			return apiErrorf(codeInvalidValue, "Port %q must be a port, a range a-b, a comma list of those, or ALL", r.Port)
		}
	case !inScenario || !strings.EqualFold(strings.TrimSpace(r.Port), portAll):
		return apiErrorf(codeInvalidParameter, "Port is only allowed with TCP or UDP, not %s", r.Protocol)
	}
	return nil
}

func (r Rule) checkSource() error {
	var sources int
	for _, s := range []string{r.CidrBlock, r.Ipv6CidrBlock, r.SourceGroupID, r.AddressTemplate} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources == 0:
		return apiErrorf(codeMissingParameter, "a rule needs one of CidrBlock, Ipv6CidrBlock, SecurityGroupId, AddressTemplate")
	case sources > 1:
		return apiErrorf("InvalidParameter.Coexist", "CidrBlock, Ipv6CidrBlock, SecurityGroupId and AddressTemplate are mutually exclusive")
	case r.CidrBlock != "" && !isCIDR(r.CidrBlock, true):
		return apiErrorf(codeInvalidValue, "CidrBlock %q is not an IPv4 address or CIDR", r.CidrBlock)
	case r.Ipv6CidrBlock != "" && !isCIDR(r.Ipv6CidrBlock, false):
		return apiErrorf(codeInvalidValue, "Ipv6CidrBlock %q is not an IPv6 address or CIDR", r.Ipv6CidrBlock)
	case r.Ipv6CidrBlock != "" && strings.EqualFold(r.Protocol, protocolICMP):
		return apiErrorf(codeInvalidParameter, "ICMP cannot be used with Ipv6CidrBlock: use ICMPv6")
	case r.SourceGroupID != "" && !groupIDPattern.MatchString(r.SourceGroupID):
		return apiErrorf(codeInvalidValue, "SecurityGroupId %q is not a security group ID", r.SourceGroupID)
	case r.AddressTemplate != "" && !hasAnyPrefix(r.AddressTemplate, "ipm-", "ipmg-"):
		return apiErrorf(codeInvalidValue, "AddressTemplate %q is not an ipm- or ipmg- ID", r.AddressTemplate)
	}
	return nil
}

func isCIDR(s string, v4 bool) bool {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr().Is4() == v4
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4() == v4
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}

// normalized is the rule as the API stores and returns it: canonical case,
// Port ALL for "all ports" and for protocols without ports, 0.0.0.0/n as
// 0.0.0.0/0.
func (r Rule) normalized() Rule {
	r.Action = strings.ToUpper(strings.TrimSpace(r.Action))
	if r.ServiceTemplate == "" {
		r.Protocol = protocols[strings.ToUpper(strings.TrimSpace(r.Protocol))]
		r.Port = strings.TrimSpace(r.Port)
		if !hasPorts(r.Protocol) || r.Port == "" || strings.EqualFold(r.Port, portAll) {
			r.Port = portAll
		}
	}
	r.CidrBlock = strings.TrimSpace(r.CidrBlock)
	if p, err := netip.ParsePrefix(r.CidrBlock); err == nil && p.Addr() == netip.IPv4Unspecified() {
		r.CidrBlock = anywhereIPv4
	}
	return r
}

// matches reports whether stored rule r is what a delete-by-rule spec names:
// every field the spec gives, the description only if it gives one.
func (r Rule) matches(spec Rule) bool {
	if spec.Description == "" {
		r.Description = ""
	}
	return r.normalized() == spec.normalized()
}

// policy is a stored rule.
type policy struct {
	Rule
	modified time.Time
}

// group is a security group's state. Rule order is PolicyIndex order.
type group struct {
	id      string
	region  string
	version int
	ingress []policy
	egress  []policy
}

func newGroup(sg SecurityGroup, region string, now time.Time) *group {
	g := &group{id: sg.ID, region: region, version: 1}
	for _, r := range sg.Ingress {
		g.ingress = append(g.ingress, policy{Rule: r.normalized(), modified: now})
	}
	for _, r := range sg.Egress {
		g.egress = append(g.egress, policy{Rule: r.normalized(), modified: now})
	}
	return g
}

func (g *group) list(dir direction) *[]policy {
	if dir == egress {
		return &g.egress
	}
	return &g.ingress
}

// insert adds rules at index at, in order (at < 0 appends), refusing rules
// that already exist, and bumps the version.
func (g *group) insert(dir direction, rules []Rule, at int, now time.Time) error {
	list := g.list(dir)
	if at < 0 {
		at = len(*list)
	}
	if at > len(*list) {
		return apiErrorf(codeInvalidValue, "PolicyIndex %d is past the end of the %s rules (%d)", at, dir, len(*list))
	}
	if len(*list)+len(rules) > maxPoliciesPerDirection {
		return apiErrorf("LimitExceeded.SecurityGroupPolicySet", "a security group holds at most %d %s rules", maxPoliciesPerDirection, dir)
	}
	added := make([]policy, 0, len(rules))
	for _, r := range rules {
		r = r.normalized()
		if g.has(dir, r) || slices.ContainsFunc(added, func(p policy) bool { return p.Rule == r }) {
			return apiErrorf("UnsupportedOperation.DuplicatePolicy", "%s already has the rule %s %s %s from %s", g.id, r.Action, r.Protocol, r.Port, describeSource(r))
		}
		added = append(added, policy{Rule: r, modified: now})
	}
	*list = slices.Insert(*list, at, added...)
	g.version++
	return nil
}

// has reports whether the group already has rule r, identical in every
// field (description included): the API answers
// UnsupportedOperation.DuplicatePolicy for it.
func (g *group) has(dir direction, r Rule) bool {
	return slices.ContainsFunc(*g.list(dir), func(p policy) bool { return p.Rule == r })
}

// deleteIndexes removes the rules at the given PolicyIndexes.
func (g *group) deleteIndexes(dir direction, indexes []int) error {
	list := g.list(dir)
	doomed := map[int]bool{}
	for _, i := range indexes {
		if i < 0 || i >= len(*list) {
			return apiErrorf(codeInvalidValue, "PolicyIndex %d does not exist in the %s rules of %s", i, dir, g.id)
		}
		doomed[i] = true
	}
	g.remove(dir, func(i int, _ policy) bool { return doomed[i] })
	return nil
}

// deleteMatching removes every rule that one of specs names.
func (g *group) deleteMatching(dir direction, specs []Rule) error {
	for _, spec := range specs {
		if !slices.ContainsFunc(*g.list(dir), func(p policy) bool { return p.matches(spec) }) {
			return apiErrorf(codeInvalidValue, "no %s rule of %s matches %s %s %s from %s",
				dir, g.id, spec.Action, spec.Protocol, spec.Port, describeSource(spec))
		}
	}
	g.remove(dir, func(_ int, p policy) bool {
		return slices.ContainsFunc(specs, func(spec Rule) bool { return p.matches(spec) })
	})
	return nil
}

func (g *group) remove(dir direction, doomed func(int, policy) bool) {
	list := g.list(dir)
	kept := make([]policy, 0, len(*list))
	for i, p := range *list {
		if !doomed(i, p) {
			kept = append(kept, p)
		}
	}
	*list = kept
	g.version++
}

func describeSource(r Rule) string {
	return r.CidrBlock + r.Ipv6CidrBlock + r.SourceGroupID + r.AddressTemplate
}

// rules returns a direction's rules in order.
func (g *group) rules(dir direction) []Rule {
	out := make([]Rule, len(*g.list(dir)))
	for i, p := range *g.list(dir) {
		out[i] = p.Rule
	}
	return out
}

// securityGroup is the group in scenario form.
func (g *group) securityGroup() SecurityGroup {
	return SecurityGroup{ID: g.id, Ingress: g.rules(ingress), Egress: g.rules(egress)}
}
