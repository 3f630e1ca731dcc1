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
// groups. Port is ignored for ICMP.
type Traffic struct {
	Protocol string // "TCP" or "ICMP"
	Port     int
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
// let in by groups, as Tencent Cloud does: groups in order, rules within a
// group by ascending PolicyIndex (groups[i].Ingress must be sorted), first
// match wins, no match rejects. Rules whose source is another security group
// or an address template, and service-template rules, cannot be evaluated
// without more calls; they make the verdict indeterminate when they come
// before the decision and act differently.
func EvaluateIngress(groups []SecurityGroupPolicies, t Traffic) Decision {
	var d Decision
	for _, g := range groups {
		for _, rule := range g.Ingress {
			ref := RuleRef{GroupID: g.GroupID, Rule: rule}
			switch ruleMatch(rule, t) {
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

type match int

const (
	matchNone    match = iota // the rule does not apply
	matchAll                  // the rule applies to traffic from anywhere
	matchSome                 // the rule applies to some internet sources only
	matchUnknown              // cannot tell without more API calls
)

func ruleMatch(p SecurityGroupPolicy, t Traffic) match {
	if p.ServiceTemplate != "" {
		return matchUnknown
	}
	if !protocolMatches(p, t) {
		return matchNone
	}
	switch {
	case p.SourceGroupID != "", p.AddressTemplate != "":
		return matchUnknown
	case p.CidrBlock == "":
		return matchNone // IPv6-only rule: the probe and most clients use IPv4
	}
	prefix, err := netip.ParsePrefix(strings.TrimSpace(p.CidrBlock))
	if err != nil {
		addr, aerr := netip.ParseAddr(strings.TrimSpace(p.CidrBlock))
		if aerr != nil || !addr.Is4() {
			return matchUnknown
		}
		return matchSome
	}
	if !prefix.Addr().Is4() {
		return matchNone
	}
	if prefix.Bits() == 0 {
		return matchAll
	}
	return matchSome
}

func protocolMatches(p SecurityGroupPolicy, t Traffic) bool {
	proto := strings.ToUpper(strings.TrimSpace(p.Protocol))
	if proto == "ALL" {
		return true
	}
	if proto != strings.ToUpper(t.Protocol) {
		return false
	}
	if proto == "ICMP" {
		return true
	}
	spec, err := ParsePortSpec(p.Port)
	return err == nil && spec.Contains(t.Port)
}
