package tencent

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	vpc "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc/v20170312"

	"github.com/cvmlogin/cvmlogin/diag"
)

func (c *Client) vpcClient(region string) (*vpc.Client, error) {
	return serviceClient(c, "vpc", region, vpc.NewClient)
}

// maxAddresses is DescribeAddresses' page size limit.
const maxAddresses = 100

// Addresses returns what the VPC service knows about the public IPs and EIPs
// among ips, of every address type (diag.AddressTypes), in one call
// (vpc:DescribeAddresses). No ips means no call and no addresses. Queries
// are merged with concurrent ones (see batcher).
//
// API docs: https://cloud.tencent.com/document/product/215/16702
func (c *Client) Addresses(ctx context.Context, region string, ips []string) ([]diag.Address, error) {
	if len(ips) == 0 {
		return nil, nil
	}
	if !isUnbatched(ctx) {
		return c.batchedAddresses(ctx, region, ips)
	}
	cli, err := c.vpcClient(region)
	if err != nil {
		return nil, err
	}
	req := vpc.NewDescribeAddressesRequest()
	req.Filters = []*vpc.Filter{
		vpcFilter("address-ip", ips...),
		// Without the filter the API leaves out ordinary public IPs (WanIP);
		// with it, it returns only the types listed: list them all.
		vpcFilter("address-type", diag.AddressTypes...),
	}
	req.Limit = common.Int64Ptr(maxAddresses)
	resp, err := call(ctx, c, describeAddresses, region, cli.DescribeAddressesWithContext, req)
	if err != nil {
		return nil, err
	}
	var addrs []diag.Address
	for _, a := range resp.Response.AddressSet {
		if a == nil {
			continue
		}
		addrs = append(addrs, diag.Address{
			IP:         deref(a.AddressIp),
			ID:         deref(a.AddressId),
			Type:       deref(a.AddressType),
			Status:     deref(a.AddressStatus),
			InstanceID: deref(a.InstanceId),
			IsBlocked:  deref(a.IsBlocked),
			IsArrears:  deref(a.IsArrears),
		})
	}
	return addrs, nil
}

func vpcFilter(name string, vals ...string) *vpc.Filter {
	return &vpc.Filter{Name: common.StringPtr(name), Values: common.StringPtrs(vals)}
}

// SecurityGroupPolicies returns a security group's rules, each direction
// sorted by PolicyIndex, and its version (vpc:DescribeSecurityGroupPolicies).
// The reply is decoded leniently (see sgPoliciesReply).
//
// API docs: https://cloud.tencent.com/document/api/215/15804
func (c *Client) SecurityGroupPolicies(ctx context.Context, region, groupID string) (diag.SecurityGroupPolicies, error) {
	cli, err := c.vpcClient(region)
	if err != nil {
		return diag.SecurityGroupPolicies{}, err
	}
	req := vpc.NewDescribeSecurityGroupPoliciesRequest()
	req.SecurityGroupId = common.StringPtr(groupID)
	send := func(ctx context.Context, req *vpc.DescribeSecurityGroupPoliciesRequest) (*sgPoliciesReply, error) {
		req.SetContext(ctx)
		reply := &sgPoliciesReply{}
		return reply, cli.Send(req, reply)
	}
	reply, err := call(ctx, c, describeSecurityGroupPolicies, region, send, req)
	if err != nil {
		return diag.SecurityGroupPolicies{}, err
	}
	out := diag.SecurityGroupPolicies{GroupID: groupID}
	if set := reply.Response.SecurityGroupPolicySet; set != nil {
		out.Version = string(set.Version)
		out.Ingress = policiesFrom(set.Ingress)
		out.Egress = policiesFrom(set.Egress)
	}
	return out, nil
}

// sgPoliciesReply is DescribeSecurityGroupPolicies' reply, decoded more
// leniently than the SDK's struct: the API and independent fakes send
// "Version" as a JSON number (the SDK declares a string, and fails), and may
// send Port as a number too. Unknown fields such as "Direction" are ignored.
type sgPoliciesReply struct {
	tchttp.BaseResponse // parses error replies
	Response            *struct {
		SecurityGroupPolicySet *struct {
			Version looseString
			Ingress []sgPolicyWire
			Egress  []sgPolicyWire
		}
		RequestId *string
	}
}

// sgPolicyWire is a SecurityGroupPolicy as the API sends it.
type sgPolicyWire struct {
	PolicyIndex       int
	Protocol          string
	Port              looseString
	ServiceTemplate   *struct{ ServiceId, ServiceGroupId string }
	CidrBlock         string
	Ipv6CidrBlock     string
	SecurityGroupId   string
	AddressTemplate   *struct{ AddressId, AddressGroupId string }
	Action            string
	PolicyDescription string
}

func policiesFrom(wire []sgPolicyWire) []diag.SecurityGroupPolicy {
	policies := make([]diag.SecurityGroupPolicy, 0, len(wire))
	for _, p := range wire {
		policy := diag.SecurityGroupPolicy{
			Index:         p.PolicyIndex,
			Protocol:      p.Protocol,
			Port:          string(p.Port),
			CidrBlock:     p.CidrBlock,
			Ipv6CidrBlock: p.Ipv6CidrBlock,
			SourceGroupID: p.SecurityGroupId,
			Action:        p.Action,
			Description:   p.PolicyDescription,
		}
		if t := p.ServiceTemplate; t != nil {
			policy.ServiceTemplate = cmp.Or(t.ServiceId, t.ServiceGroupId)
		}
		if t := p.AddressTemplate; t != nil {
			policy.AddressTemplate = cmp.Or(t.AddressId, t.AddressGroupId)
		}
		policies = append(policies, policy)
	}
	slices.SortStableFunc(policies, func(a, b diag.SecurityGroupPolicy) int { return a.Index - b.Index })
	return policies
}

// CreateIngressPolicies inserts rules at the top (PolicyIndex 0) of a group's
// ingress, in order, and returns the request ID
// (vpc:CreateSecurityGroupPolicies). Each rule's Index is ignored; its Port is
// sent only for TCP and UDP. A non-empty version guards against concurrent
// edits: a mismatch fails with KindConflict. It is retried only when
// throttled.
//
// API docs: https://www.tencentcloud.com/document/product/215/15807
func (c *Client) CreateIngressPolicies(ctx context.Context, region, groupID, version string, rules []diag.SecurityGroupPolicy) (string, error) {
	if len(rules) == 0 {
		return "", errors.New("tencent: creating ingress policies: no rule given")
	}
	cli, err := c.vpcClient(region)
	if err != nil {
		return "", err
	}
	req := vpc.NewCreateSecurityGroupPoliciesRequest()
	req.SecurityGroupId = &groupID
	req.SecurityGroupPolicySet = &vpc.SecurityGroupPolicySet{Version: optional(version)}
	for _, r := range rules {
		req.SecurityGroupPolicySet.Ingress = append(req.SecurityGroupPolicySet.Ingress, newIngressPolicy(r))
	}
	resp, err := call(ctx, c, createSecurityGroupPolicies, region, cli.CreateSecurityGroupPoliciesWithContext, req)
	if err != nil {
		return "", err
	}
	return deref(resp.Response.RequestId), nil
}

// newIngressPolicy is r as a rule to insert at the top of the ingress.
func newIngressPolicy(r diag.SecurityGroupPolicy) *vpc.SecurityGroupPolicy {
	p := &vpc.SecurityGroupPolicy{
		PolicyIndex:       common.Int64Ptr(0),
		Protocol:          optional(r.Protocol),
		CidrBlock:         optional(r.CidrBlock),
		Ipv6CidrBlock:     optional(r.Ipv6CidrBlock),
		SecurityGroupId:   optional(r.SourceGroupID),
		Action:            optional(r.Action),
		PolicyDescription: optional(r.Description),
	}
	if proto := strings.ToUpper(r.Protocol); proto == "TCP" || proto == "UDP" {
		p.Port = optional(r.Port)
	}
	if id := r.ServiceTemplate; id != "" {
		p.ServiceTemplate = &vpc.ServiceTemplateSpecification{}
		if strings.HasPrefix(id, "ppmg-") {
			p.ServiceTemplate.ServiceGroupId = &id
		} else {
			p.ServiceTemplate.ServiceId = &id
		}
	}
	if id := r.AddressTemplate; id != "" {
		p.AddressTemplate = &vpc.AddressTemplateSpecification{}
		if strings.HasPrefix(id, "ipmg-") {
			p.AddressTemplate.AddressGroupId = &id
		} else {
			p.AddressTemplate.AddressId = &id
		}
	}
	return p
}

// DeleteIngressPolicies deletes ingress rules by PolicyIndex and returns the
// request ID (vpc:DeleteSecurityGroupPolicies). version guards it like
// CreateIngressPolicies; it is retried only when throttled.
//
// API docs: https://www.tencentcloud.com/document/product/215/15809
func (c *Client) DeleteIngressPolicies(ctx context.Context, region, groupID, version string, indexes []int) (string, error) {
	if len(indexes) == 0 {
		return "", errors.New("tencent: deleting ingress policies: no policy index given")
	}
	cli, err := c.vpcClient(region)
	if err != nil {
		return "", err
	}
	req := vpc.NewDeleteSecurityGroupPoliciesRequest()
	req.SecurityGroupId = &groupID
	req.SecurityGroupPolicySet = &vpc.SecurityGroupPolicySet{Version: optional(version)}
	for _, i := range indexes {
		req.SecurityGroupPolicySet.Ingress = append(req.SecurityGroupPolicySet.Ingress,
			&vpc.SecurityGroupPolicy{PolicyIndex: common.Int64Ptr(int64(i))})
	}
	resp, err := call(ctx, c, deleteSecurityGroupPolicies, region, cli.DeleteSecurityGroupPoliciesWithContext, req)
	if err != nil {
		return "", err
	}
	return deref(resp.Response.RequestId), nil
}
