package tencentsim

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

const codeBadFilter = "InvalidParameter.FilterInvalidKey"

// addressJSON is a DescribeAddresses AddressSet entry.
type addressJSON struct {
	AddressID               string `json:"AddressId"`
	AddressName             string `json:"AddressName"`
	AddressStatus           string `json:"AddressStatus"`
	AddressIP               string `json:"AddressIp"`
	InstanceID              string `json:"InstanceId"`
	InstanceType            string `json:"InstanceType"`
	CreatedTime             string `json:"CreatedTime"`
	PrivateAddressIP        string `json:"PrivateAddressIp"`
	IsArrears               bool   `json:"IsArrears"`
	IsBlocked               bool   `json:"IsBlocked"`
	IsEipDirectConnection   bool   `json:"IsEipDirectConnection"`
	AddressType             string `json:"AddressType"`
	CascadeRelease          bool   `json:"CascadeRelease"`
	InternetServiceProvider string `json:"InternetServiceProvider"`
	Bandwidth               int64  `json:"Bandwidth"`
	InternetChargeType      string `json:"InternetChargeType"`
}

func (s *Sim) describeAddresses(req *request) (any, error) {
	var p struct {
		AddressIDs []string `json:"AddressIds"`
		Filters    filters  `json:"Filters"`
		Offset     int      `json:"Offset"`
		Limit      int      `json:"Limit"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if err := p.Filters.check(codeBadFilter, "address-id", "address-name", "address-ip", "address-type", "address-status",
		"instance-id", "instance-type", "private-ip-address", "is-arrears"); err != nil {
		return nil, err
	}
	// Without an address-type filter, only EIP-family addresses are
	// returned, never WanIP: the documented surprise.
	if !slices.ContainsFunc(p.Filters, func(f filter) bool { return f.Name == "address-type" }) {
		p.Filters = append(p.Filters, filter{Name: "address-type", Values: eipTypes})
	}
	var found []addressJSON
	for _, a := range s.addressesIn(req.region) {
		if (len(p.AddressIDs) == 0 || slices.Contains(p.AddressIDs, a.AddressID)) && p.Filters.match(a.filterValues) {
			found = append(found, a)
		}
	}
	lo, hi, err := page(len(found), p.Offset, p.Limit, 20, 100)
	if err != nil {
		return nil, err
	}
	return struct {
		TotalCount int           `json:"TotalCount"`
		AddressSet []addressJSON `json:"AddressSet"`
	}{len(found), append([]addressJSON{}, found[lo:hi]...)}, nil
}

func (a addressJSON) filterValues(name string) []string {
	switch name {
	case "address-id":
		return []string{a.AddressID}
	case "address-name":
		return []string{a.AddressName}
	case "address-ip":
		return []string{a.AddressIP}
	case "instance-type":
		return []string{a.InstanceType}
	case "private-ip-address":
		return []string{a.PrivateAddressIP}
	case "address-type":
		return []string{a.AddressType}
	case "address-status":
		return []string{a.AddressStatus}
	case "instance-id":
		return []string{a.InstanceID}
	case "is-arrears":
		return []string{strings.ToUpper(strconv.FormatBool(a.IsArrears))}
	}
	return nil
}

// addressesIn returns the public addresses of a region's instances.
func (s *Sim) addressesIn(region string) []addressJSON {
	var out []addressJSON
	for _, in := range s.instancesIn(region) {
		for _, ip := range in.sc.PublicIPs {
			sum := sha256.Sum256([]byte(ip))
			out = append(out, addressJSON{
				AddressID: "eip-" + hex.EncodeToString(sum[:4]), AddressStatus: "BIND", AddressIP: ip,
				InstanceID: in.sc.ID, InstanceType: "CVM", CreatedTime: formatLocal(in.created),
				PrivateAddressIP: in.sc.PrivateIPs[0], IsArrears: in.sc.Address.Arrears, IsBlocked: in.sc.Address.Blocked,
				AddressType: in.sc.Address.Type, InternetServiceProvider: "BGP", Bandwidth: in.sc.BandwidthOutMbps,
				InternetChargeType: "TRAFFIC_POSTPAID_BY_HOUR",
			})
		}
	}
	return out
}

// policyJSON is a rule as DescribeSecurityGroupPolicies returns it.
type policyJSON struct {
	PolicyIndex       int                 `json:"PolicyIndex"`
	Protocol          string              `json:"Protocol"`
	Port              string              `json:"Port"`
	ServiceTemplate   serviceTemplateJSON `json:"ServiceTemplate"`
	CidrBlock         string              `json:"CidrBlock"`
	Ipv6CidrBlock     string              `json:"Ipv6CidrBlock"`
	SecurityGroupID   string              `json:"SecurityGroupId"`
	AddressTemplate   addressTemplateJSON `json:"AddressTemplate"`
	Action            string              `json:"Action"`
	PolicyDescription string              `json:"PolicyDescription"`
	ModifyTime        string              `json:"ModifyTime"`
}

type serviceTemplateJSON struct {
	ServiceID      string `json:"ServiceId"`
	ServiceGroupID string `json:"ServiceGroupId"`
}

type addressTemplateJSON struct {
	AddressID      string `json:"AddressId"`
	AddressGroupID string `json:"AddressGroupId"`
}

// policyInput is a rule in a Create/DeleteSecurityGroupPolicies request.
type policyInput struct {
	PolicyIndex       *int                 `json:"PolicyIndex"`
	Protocol          string               `json:"Protocol"`
	Port              string               `json:"Port"`
	ServiceTemplate   *serviceTemplateJSON `json:"ServiceTemplate"`
	CidrBlock         string               `json:"CidrBlock"`
	Ipv6CidrBlock     string               `json:"Ipv6CidrBlock"`
	SecurityGroupID   string               `json:"SecurityGroupId"`
	AddressTemplate   *addressTemplateJSON `json:"AddressTemplate"`
	Action            string               `json:"Action"`
	PolicyDescription string               `json:"PolicyDescription"`
	ModifyTime        ignored              `json:"ModifyTime"`
	Priority          ignored              `json:"Priority"`
}

// policySetInput is a request's SecurityGroupPolicySet.
type policySetInput struct {
	Version          flexString    `json:"Version"`
	Ingress          []policyInput `json:"Ingress"`
	Egress           []policyInput `json:"Egress"`
	PolicyStatistics ignored       `json:"PolicyStatistics"`
}

// policyRequest is the body of Create/DeleteSecurityGroupPolicies.
type policyRequest struct {
	SecurityGroupID        string          `json:"SecurityGroupId"`
	SecurityGroupPolicySet *policySetInput `json:"SecurityGroupPolicySet"`
}

func (in policyInput) rule() Rule {
	r := Rule{Protocol: in.Protocol, Port: in.Port, CidrBlock: in.CidrBlock, Ipv6CidrBlock: in.Ipv6CidrBlock,
		SourceGroupID: in.SecurityGroupID, Action: in.Action, Description: in.PolicyDescription}
	if t := in.ServiceTemplate; t != nil {
		r.ServiceTemplate = t.ServiceID + t.ServiceGroupID
	}
	if t := in.AddressTemplate; t != nil {
		r.AddressTemplate = t.AddressID + t.AddressGroupID
	}
	return r
}

func toPolicyJSON(index int, p policy) policyJSON {
	j := policyJSON{PolicyIndex: index, Protocol: p.Protocol, Port: p.Port, CidrBlock: p.CidrBlock,
		Ipv6CidrBlock: p.Ipv6CidrBlock, SecurityGroupID: p.SourceGroupID, Action: p.Action,
		PolicyDescription: p.Description, ModifyTime: formatLocal(p.modified)}
	if strings.HasPrefix(p.ServiceTemplate, "ppmg-") {
		j.ServiceTemplate.ServiceGroupID = p.ServiceTemplate
	} else {
		j.ServiceTemplate.ServiceID = p.ServiceTemplate
	}
	if strings.HasPrefix(p.AddressTemplate, "ipmg-") {
		j.AddressTemplate.AddressGroupID = p.AddressTemplate
	} else {
		j.AddressTemplate.AddressID = p.AddressTemplate
	}
	return j
}

// groupIn finds a security group of a region by a request's SecurityGroupId.
func (s *Sim) groupIn(region, id string) (*group, error) {
	switch {
	case id == "":
		return nil, apiErrorf(codeMissingParameter, "SecurityGroupId is required")
	case !groupIDPattern.MatchString(id):
		return nil, apiErrorf("InvalidParameterValue.Malformed", "the security group ID %q is malformed", id)
	}
	g, ok := s.groups[id]
	if !ok || g.region != region {
		return nil, apiErrorf(codeResourceNotFound, "the security group %s does not exist in %s", id, region)
	}
	return g, nil
}

func (s *Sim) describeSecurityGroupPolicies(req *request) (any, error) {
	var p struct {
		SecurityGroupID string  `json:"SecurityGroupId"`
		Filters         filters `json:"Filters"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if len(p.Filters) > 0 {
		return nil, apiErrorf(codeUnsupportedOperation, "the simulator does not implement Filters for DescribeSecurityGroupPolicies")
	}
	g, err := s.groupIn(req.region, p.SecurityGroupID)
	if err != nil {
		return nil, err
	}
	type statistics struct {
		IngressIPv4TotalCount int `json:"IngressIPv4TotalCount"`
		IngressIPv6TotalCount int `json:"IngressIPv6TotalCount"`
		EgressIPv4TotalCount  int `json:"EgressIPv4TotalCount"`
		EgressIPv6TotalCount  int `json:"EgressIPv6TotalCount"`
	}
	type policySet struct {
		Version          string       `json:"Version"` // a string, as the SDK model declares
		Ingress          []policyJSON `json:"Ingress"`
		Egress           []policyJSON `json:"Egress"`
		PolicyStatistics statistics   `json:"PolicyStatistics"`
	}
	set := policySet{Version: strconv.Itoa(g.version), Ingress: []policyJSON{}, Egress: []policyJSON{}}
	for i, pol := range g.ingress {
		set.Ingress = append(set.Ingress, toPolicyJSON(i, pol))
	}
	for i, pol := range g.egress {
		set.Egress = append(set.Egress, toPolicyJSON(i, pol))
	}
	set.PolicyStatistics.IngressIPv4TotalCount, set.PolicyStatistics.IngressIPv6TotalCount = countByFamily(g.ingress)
	set.PolicyStatistics.EgressIPv4TotalCount, set.PolicyStatistics.EgressIPv6TotalCount = countByFamily(g.egress)
	return struct {
		SecurityGroupPolicySet policySet `json:"SecurityGroupPolicySet"`
	}{set}, nil
}

func countByFamily(policies []policy) (v4, v6 int) {
	for _, p := range policies {
		if p.Ipv6CidrBlock != "" {
			v6++
		} else {
			v4++
		}
	}
	return v4, v6
}

// policyChange is a decoded, checked Create/DeleteSecurityGroupPolicies.
type policyChange struct {
	group  *group
	dir    direction
	inputs []policyInput
}

// decodePolicyChange decodes a policy request and checks what Create and
// Delete share: the group, one direction, and the optimistic Version.
func (s *Sim) decodePolicyChange(req *request) (policyChange, error) {
	var p policyRequest
	if err := decodeParams(req, &p); err != nil {
		return policyChange{}, err
	}
	g, err := s.groupIn(req.region, p.SecurityGroupID)
	if err != nil {
		return policyChange{}, err
	}
	set := p.SecurityGroupPolicySet
	if set == nil {
		return policyChange{}, apiErrorf(codeMissingParameter, "SecurityGroupPolicySet is required")
	}
	c := policyChange{group: g, dir: ingress, inputs: set.Ingress}
	switch {
	case len(set.Ingress) > 0 && len(set.Egress) > 0:
		return policyChange{}, apiErrorf(codeInvalidParameter, "one request changes one direction: Ingress or Egress, not both")
	case len(set.Egress) > 0:
		c.dir, c.inputs = egress, set.Egress
	case len(set.Ingress) == 0:
		return policyChange{}, apiErrorf(codeMissingParameter, "SecurityGroupPolicySet needs Ingress or Egress rules")
	}
	if set.Version != "" && string(set.Version) != strconv.Itoa(g.version) {
		return policyChange{}, apiErrorf(codeVersionMismatch, "the security group %s is at version %d, not %s: read it again", g.id, g.version, set.Version)
	}
	return c, nil
}

func (s *Sim) createSecurityGroupPolicies(req *request) (any, error) {
	c, err := s.decodePolicyChange(req)
	if err != nil {
		return nil, err
	}
	at := -1
	if first := c.inputs[0].PolicyIndex; first != nil {
		at = *first
	}
	rules := make([]Rule, len(c.inputs))
	for i, in := range c.inputs {
		if (in.PolicyIndex == nil) != (at < 0) || (in.PolicyIndex != nil && *in.PolicyIndex != at) {
			return nil, apiErrorf(codeInvalidParameter, "all rules of one request must have the same PolicyIndex, or none")
		}
		rules[i] = in.rule()
		if err := rules[i].check(false); err != nil {
			return nil, err
		}
	}
	if err := c.group.insert(c.dir, rules, at, req.now); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Sim) deleteSecurityGroupPolicies(req *request) (any, error) {
	c, err := s.decodePolicyChange(req)
	if err != nil {
		return nil, err
	}
	var indexes []int
	var specs []Rule
	for _, in := range c.inputs {
		if in.PolicyIndex != nil {
			indexes = append(indexes, *in.PolicyIndex)
		} else {
			specs = append(specs, in.rule())
		}
	}
	switch {
	case len(indexes) > 0 && len(specs) > 0:
		return nil, apiErrorf(codeInvalidParameter, "delete either by PolicyIndex or by rule, not both in one request")
	case len(indexes) > 0:
		err = c.group.deleteIndexes(c.dir, indexes)
	default:
		err = c.group.deleteMatching(c.dir, specs)
	}
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
