package tencentsim

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// This file is the simulator's own reading of how Tencent Cloud security
// groups treat inbound traffic, written from the documentation
// (https://cloud.tencent.com/document/product/213/12452 and the vpc API's
// SecurityGroupPolicy, AddressTemplate and ServiceTemplate models), not
// shared with the diagnosis code it witnesses:
//
//   - The groups bound to an instance are matched in binding order, the order
//     DescribeInstances lists SecurityGroupIds; within a group, rules are
//     matched by ascending PolicyIndex. The first rule that matches decides
//     (ACCEPT or DROP); traffic no rule matches is rejected.
//   - A rule matches when its protocol (or service template) and its source
//     (CidrBlock, Ipv6CidrBlock, SecurityGroupId or AddressTemplate) match.
//   - A SecurityGroupId source stands for the private IPs of the instances
//     bound to that group; traffic from the internet never comes from one.

// ProbeSource is the address the simulator gives the port probe when it
// decides whether a security group lets it in: the bot host is a client on
// the internet (198.51.100.0/24 is TEST-NET-2, never routed).
var ProbeSource = netip.MustParseAddr("198.51.100.10")

// ProbeSourceV6 is ProbeSource's IPv6 counterpart, for probes of a public
// IPv6 address (2001:db8::/32 is the documentation prefix).
var ProbeSourceV6 = netip.MustParseAddr("2001:db8:5100::10")

// Packet is inbound traffic to evaluate against security groups.
type Packet struct {
	Source   netip.Addr
	Protocol string // TCP, UDP, ICMP, ICMPv6 or GRE
	Port     int    // destination port, for TCP and UDP
}

// References resolves what rules refer to by ID: templates, and the members
// of security groups used as sources.
type References struct {
	// Templates are the address and service templates and their groups.
	Templates []Template
	// Members maps a security-group ID to the private IPs of the instances
	// bound to it.
	Members map[string][]string
}

// ProbeAccepts reports whether the security groups, in binding order, let a
// TCP connection from the internet (ProbeSource, or ProbeSourceV6 when v6)
// in to port.
func ProbeAccepts(groups []SecurityGroup, refs References, port int, v6 bool) bool {
	src := ProbeSource
	if v6 {
		src = ProbeSourceV6
	}
	return Admits(groups, refs, Packet{Source: src, Protocol: protocolTCP, Port: port})
}

// Admits reports whether the groups' ingress rules let p in: the first
// matching rule of the first group that has one decides; no match rejects.
func Admits(groups []SecurityGroup, refs References, p Packet) bool {
	for _, g := range groups {
		for _, r := range g.Ingress {
			if refs.ruleMatches(r, p) {
				return strings.EqualFold(strings.TrimSpace(r.Action), actionAccept)
			}
		}
	}
	return false
}

func (refs References) ruleMatches(r Rule, p Packet) bool {
	if r.ServiceTemplate != "" {
		if !slices.ContainsFunc(refs.services(r.ServiceTemplate), func(s string) bool { return serviceMatches(s, p) }) {
			return false
		}
	} else if !protocolPortMatch(r.Protocol, r.Port, p) {
		return false
	}
	return refs.sourceMatches(r, p.Source)
}

func (refs References) sourceMatches(r Rule, src netip.Addr) bool {
	switch {
	case r.CidrBlock != "":
		return src.Is4() && addressEntryContains(r.CidrBlock, src)
	case r.Ipv6CidrBlock != "":
		return src.Is6() && addressEntryContains(r.Ipv6CidrBlock, src)
	case r.SourceGroupID != "":
		return slices.ContainsFunc(refs.Members[r.SourceGroupID], func(ip string) bool { return addressEntryContains(ip, src) })
	case r.AddressTemplate != "":
		return slices.ContainsFunc(refs.addresses(r.AddressTemplate), func(a string) bool { return addressEntryContains(a, src) })
	}
	return false
}

// protocolPortMatch matches a rule's Protocol and Port. ALL matches every
// protocol; TCP and UDP also need the port.
func protocolPortMatch(protocol, port string, p Packet) bool {
	proto := strings.ToUpper(strings.TrimSpace(protocol))
	switch {
	case proto == protocolAll:
		return true
	case proto != strings.ToUpper(p.Protocol):
		return false
	case proto == "TCP" || proto == "UDP":
		return portMatches(port, p.Port)
	}
	return true
}

// portMatches reports whether a Port field ("ALL", "22", "8000-8010",
// "22,80,443") covers port. An empty field means every port, as the API
// returns it for rules without ports. A field that does not parse matches
// nothing: CreateSecurityGroupPolicies refuses such a value, so no real rule
// has one, and a rule that matches nothing can neither open nor close a port
// by accident, the robust reading.
func portMatches(field string, port int) bool {
	ranges, ok := parsePorts(field)
	return ok && slices.ContainsFunc(ranges, func(r [2]int) bool { return port >= r[0] && port <= r[1] })
}

// parsePorts parses a Port field into inclusive ranges.
func parsePorts(field string) ([][2]int, bool) {
	field = strings.TrimSpace(field)
	if field == "" || strings.EqualFold(field, portAll) {
		return [][2]int{{1, maxPort}}, true
	}
	var ranges [][2]int
	for item := range strings.SplitSeq(field, ",") {
		first, last, isRange := strings.Cut(strings.TrimSpace(item), "-")
		lo, okLo := portNumber(first)
		hi, okHi := lo, okLo
		if isRange {
			hi, okHi = portNumber(last)
		}
		if !okLo || !okHi || hi < lo {
			return nil, false
		}
		ranges = append(ranges, [2]int{lo, hi})
	}
	return ranges, true
}

const maxPort = 65535

func portNumber(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil && n >= 1 && n <= maxPort
}

// serviceMatches matches one service of a service template: "tcp:22",
// "udp:53-60", "tcp:80,443", "tcp:all", "icmp", "gre" or "all" (the API
// writes them back in lower case, sometimes with a space after the colon).
func serviceMatches(service string, p Packet) bool {
	proto, port, _ := strings.Cut(service, ":")
	return protocolPortMatch(proto, port, p)
}

// addressEntryContains matches an address-template entry or a CIDR field:
// an address, a CIDR, or a range "first-last".
func addressEntryContains(entry string, src netip.Addr) bool {
	entry = strings.TrimSpace(entry)
	if first, last, ok := strings.Cut(entry, "-"); ok {
		lo, errLo := netip.ParseAddr(strings.TrimSpace(first))
		hi, errHi := netip.ParseAddr(strings.TrimSpace(last))
		return errLo == nil && errHi == nil && lo.Is4() == src.Is4() && lo.Compare(src) <= 0 && src.Compare(hi) <= 0
	}
	if prefix, err := netip.ParsePrefix(entry); err == nil {
		return prefix.Contains(src)
	}
	addr, err := netip.ParseAddr(entry)
	return err == nil && addr == src
}

// Template is an address or service template, or a group of them. The ID's
// prefix says which: ipm- (Members are addresses, CIDRs or ranges), ipmg-
// (Members are ipm- IDs), ppm- (Members are services such as "tcp:22",
// "udp:53", "icmp", "all") or ppmg- (Members are ppm- IDs).
type Template struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Members []string `json:"members"`
}

func (refs References) template(id string) (Template, bool) {
	i := slices.IndexFunc(refs.Templates, func(t Template) bool { return t.ID == id })
	if i < 0 {
		return Template{}, false
	}
	return refs.Templates[i], true
}

// expand returns a template's entries, following a group to its members.
// An ID that names no template has no entries: the API does not let a rule
// refer to a template that does not exist.
func (refs References) expand(id, groupPrefix string) []string {
	t, ok := refs.template(id)
	if !ok {
		return nil
	}
	if !strings.HasPrefix(id, groupPrefix) {
		return t.Members
	}
	var out []string
	for _, member := range t.Members {
		if m, ok := refs.template(member); ok && !strings.HasPrefix(member, groupPrefix) {
			out = append(out, m.Members...)
		}
	}
	return out
}

func (refs References) addresses(id string) []string { return refs.expand(id, "ipmg-") }

func (refs References) services(id string) []string { return refs.expand(id, "ppmg-") }
