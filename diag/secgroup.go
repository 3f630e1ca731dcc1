package diag

import (
	"fmt"
	"net/netip"
	"strings"
)

// Verdict is the outcome of evaluating security groups for some traffic.
type Verdict string

// The verdicts of EvaluateIngress.
const (
	VerdictAccept        Verdict = "accept"        // a rule accepts the traffic from anywhere
	VerdictPartial       Verdict = "partial"       // accepted only from some sources
	VerdictDrop          Verdict = "drop"          // a DROP rule matches first
	VerdictNoMatch       Verdict = "no_match"      // no rule matches: the default is reject
	VerdictIndeterminate Verdict = "indeterminate" // a rule that cannot be evaluated here may decide
)

// Traffic is inbound traffic from the internet to check against security
// groups. Port is ignored for ICMP. IPv6 selects the address family: IPv4
// traffic is matched by CidrBlock sources, IPv6 traffic by Ipv6CidrBlock.
type Traffic struct {
	Protocol string // "TCP" or "ICMP"
	Port     int
	IPv6     bool
}

// Family names the traffic's address family, "IPv4" or "IPv6".
func (t Traffic) Family() string {
	if t.IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// String renders the traffic as "TCP 22" or "ICMP".
func (t Traffic) String() string {
	if strings.EqualFold(t.Protocol, "ICMP") {
		return "ICMP"
	}
	return fmt.Sprintf("%s %d", strings.ToUpper(t.Protocol), t.Port)
}

// RuleRef points at one rule of one group.
type RuleRef struct {
	GroupID string              `json:"group_id"`
	Rule    SecurityGroupPolicy `json:"rule"`
}

// String renders the rule as the thread shows it, e.g.
// "sg-12345678 rule #0 DROP ALL ALL from 0.0.0.0/0".
func (r RuleRef) String() string {
	p := r.Rule
	proto := p.Protocol
	port := p.Port
	if p.ServiceTemplate != "" {
		proto, port = "service template", p.ServiceTemplate
	}
	return fmt.Sprintf("%s rule #%d %s %s %s from %s", r.GroupID, p.Index,
		strings.ToUpper(p.Action), strings.ToUpper(proto), orAll(port), ruleSource(p))
}

func orAll(port string) string {
	if port == "" {
		return "ALL"
	}
	return port
}

func ruleSource(p SecurityGroupPolicy) string {
	switch {
	case p.CidrBlock != "":
		return p.CidrBlock
	case p.Ipv6CidrBlock != "":
		return p.Ipv6CidrBlock
	case p.SourceGroupID != "":
		return "security group " + p.SourceGroupID
	case p.AddressTemplate != "":
		return "address template " + p.AddressTemplate
	}
	return "anywhere"
}

// Decision explains a Verdict: the deciding rule and the rules that
// qualified it.
type Decision struct {
	Verdict Verdict
	// Decider is the rule that decided (accept or drop), if any.
	Decider *RuleRef
	// Partial lists ACCEPT rules that match only some sources.
	Partial []RuleRef
	// Uncertain lists earlier rules that could not be evaluated and could
	// have decided otherwise.
	Uncertain []RuleRef
}

// EvaluateIngress decides whether traffic from anywhere on the internet is
// let in by groups, with no template resolved: rules that use an address or
// service template count as unevaluable. See EvaluateIngressWith.
func EvaluateIngress(groups []SecurityGroupPolicies, t Traffic) Decision {
	return EvaluateIngressWith(groups, t, Templates{})
}

// EvaluateIngressWith decides whether traffic from anywhere on the internet
// is let in by groups, as Tencent Cloud does: first match wins, no match
// rejects. Rules within a group are matched by ascending PolicyIndex
// (groups[i].Ingress must be sorted).
//
// Groups are matched in the order given, which must be the order
// DescribeInstances returns SecurityGroupIds: Tencent documents that several
// groups bound to an instance are matched in binding order, as their priority
// ("多个安全组绑定至实例后，将以绑定顺序作为优先级顺序依次匹配执行",
// https://cloud.tencent.com/document/product/1026/31282, AssociateSecurityGroups),
// and the instance's SecurityGroupIds lists them in that order. Nothing here
// reorders them.
//
// A rule whose source is another security group stands for the private IPs of
// that group's instances, so it matches some sources but never the internet at
// large: an ACCEPT makes the verdict partial, a DROP blocks nobody else. Rules
// using a template are evaluated through tpl; a template missing from tpl, or
// a Port or address that cannot be parsed, makes the rule unevaluable, and
// such a rule makes the verdict indeterminate when it comes before the
// decision and acts differently.
func EvaluateIngressWith(groups []SecurityGroupPolicies, t Traffic, tpl Templates) Decision {
	var d Decision
	for _, g := range groups {
		for _, rule := range g.Ingress {
			ref := RuleRef{GroupID: g.GroupID, Rule: rule}
			switch ruleMatch(rule, t, tpl) {
			case matchNone:
				continue
			case matchUnknown:
				d.Uncertain = append(d.Uncertain, ref)
				continue
			case matchSome:
				if isAccept(rule) {
					d.Partial = append(d.Partial, ref)
				}
				continue
			}
			d.Decider = &ref
			switch {
			case uncertainOtherwise(d.Uncertain, isAccept(rule)):
				d.Verdict = VerdictIndeterminate
			case isAccept(rule):
				d.Verdict = VerdictAccept
			case len(d.Partial) > 0:
				d.Verdict = VerdictPartial // e.g. "SSH from the office only, drop the rest"
			default:
				d.Verdict = VerdictDrop
			}
			return d
		}
	}
	d.Verdict = VerdictNoMatch
	switch {
	case uncertainOtherwise(d.Uncertain, false):
		d.Verdict = VerdictIndeterminate
	case len(d.Partial) > 0:
		d.Verdict = VerdictPartial
	}
	return d
}

// uncertainOtherwise reports whether an unevaluable rule acts differently from
// the decision (accept or not).
func uncertainOtherwise(uncertain []RuleRef, accept bool) bool {
	for _, u := range uncertain {
		if isAccept(u.Rule) != accept {
			return true
		}
	}
	return false
}

func isAccept(p SecurityGroupPolicy) bool { return strings.EqualFold(p.Action, "ACCEPT") }

// match is how much of the internet's traffic a rule applies to. The values
// are ordered: when a template lists several entries, the largest wins.
type match int

const (
	matchNone    match = iota // the rule does not apply
	matchSome                 // the rule applies to some internet sources only
	matchUnknown              // cannot tell
	matchAll                  // the rule applies to traffic from anywhere
)

// both combines what a rule's service and its source match: the rule applies
// as far as both do.
func both(service, source match) match {
	switch {
	case service == matchNone || source == matchNone:
		return matchNone
	case service == matchUnknown || source == matchUnknown:
		return matchUnknown
	}
	return min(service, source)
}

func ruleMatch(p SecurityGroupPolicy, t Traffic, tpl Templates) match {
	return both(serviceMatch(p, t, tpl), sourceMatch(p, t, tpl))
}

// serviceMatch tells whether the rule's protocol and port (or service
// template) cover t: matchAll, matchNone or matchUnknown.
func serviceMatch(p SecurityGroupPolicy, t Traffic, tpl Templates) match {
	if p.ServiceTemplate == "" {
		return protocolMatch(p.Protocol, p.Port, t)
	}
	services, ok := tpl.Services[p.ServiceTemplate]
	if !ok {
		return matchUnknown
	}
	m := matchNone
	for _, s := range services {
		proto, port, _ := strings.Cut(s, ":")
		m = max(m, protocolMatch(proto, port, t))
	}
	return m
}

func protocolMatch(protocol, port string, t Traffic) match {
	proto := strings.ToUpper(strings.TrimSpace(protocol))
	switch {
	case proto == "ALL":
		return matchAll
	case proto != strings.ToUpper(t.Protocol):
		return matchNone
	case proto == "ICMP":
		return matchAll
	}
	spec, err := ParsePortSpec(port)
	switch {
	case err != nil:
		return matchUnknown // a Port we cannot read may well cover t
	case spec.Contains(t.Port):
		return matchAll
	}
	return matchNone
}

// sourceMatch tells how much of the internet the rule's source covers for
// t's address family.
func sourceMatch(p SecurityGroupPolicy, t Traffic, tpl Templates) match {
	switch {
	case p.CidrBlock != "":
		return addressMatch(p.CidrBlock, false, t.IPv6)
	case p.Ipv6CidrBlock != "":
		return addressMatch(p.Ipv6CidrBlock, true, t.IPv6)
	case p.SourceGroupID != "":
		// The private IPs of the instances in that group: a bastion host there
		// can reach the instance, nobody on the internet can.
		return matchSome
	case p.AddressTemplate != "":
		addrs, ok := tpl.Addresses[p.AddressTemplate]
		if !ok {
			return matchUnknown
		}
		m := matchNone
		for _, a := range addrs {
			m = max(m, templateAddressMatch(a, t.IPv6))
		}
		return m
	}
	return matchNone
}

// addressMatch matches a rule's CIDR block, IP address or (in templates) IP
// range: matchAll for a /0 of the traffic's family. isV6 is the family the
// field is for; a field of the other family does not apply.
func addressMatch(s string, isV6, trafficV6 bool) match {
	if isV6 != trafficV6 {
		return matchNone
	}
	s = strings.TrimSpace(s)
	if prefix, err := netip.ParsePrefix(s); err == nil {
		switch {
		case prefix.Addr().Is6() != trafficV6:
			return matchNone
		case prefix.Bits() == 0:
			return matchAll
		}
		return matchSome
	}
	if addr, err := netip.ParseAddr(s); err == nil {
		if addr.Is6() != trafficV6 {
			return matchNone
		}
		return matchSome
	}
	return matchUnknown
}

// templateAddressMatch matches one entry of an address template: an IP, a
// CIDR block or an IP range "first-last", of either family.
func templateAddressMatch(s string, trafficV6 bool) match {
	s = strings.TrimSpace(s)
	first, last, isRange := strings.Cut(s, "-")
	if !isRange {
		return addressMatch(s, strings.Contains(s, ":"), trafficV6)
	}
	lo, err1 := netip.ParseAddr(strings.TrimSpace(first))
	hi, err2 := netip.ParseAddr(strings.TrimSpace(last))
	switch {
	case err1 != nil || err2 != nil || lo.Is6() != hi.Is6():
		return matchUnknown
	case lo.Is6() != trafficV6:
		return matchNone
	case !lo.Prev().IsValid() && !hi.Next().IsValid():
		return matchAll // the whole address space
	}
	return matchSome
}
