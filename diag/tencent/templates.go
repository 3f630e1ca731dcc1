package tencent

import (
	"context"
	"slices"
	"strconv"

	vpc "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc/v20170312"

	"github.com/cvmlogin/cvmlogin/diag"
)

// maxTemplates is the template APIs' page size limit, and the number of IDs
// one filter may list.
const maxTemplates = 100

// templateLimit is maxTemplates as the template APIs take it: a string.
var templateLimit = strconv.Itoa(maxTemplates)

// AddressTemplates returns the IP address templates among ids, each with the
// addresses it lists, plain or with remarks (vpc:DescribeAddressTemplates).
// At most 100 IDs are looked up; no ids means no call.
//
// API docs: https://www.tencentcloud.com/document/api/215/16717
func (c *Client) AddressTemplates(ctx context.Context, region string, ids []string) ([]diag.AddressTemplate, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cli, err := c.vpcClient(region)
	if err != nil {
		return nil, err
	}
	req := vpc.NewDescribeAddressTemplatesRequest()
	req.Filters = []*vpc.Filter{vpcFilter("address-template-id", firstIDs(ids)...)}
	req.Limit = &templateLimit
	resp, err := call(ctx, c, describeAddressTemplates, region, cli.DescribeAddressTemplatesWithContext, req)
	if err != nil {
		return nil, err
	}
	var out []diag.AddressTemplate
	for _, t := range resp.Response.AddressTemplateSet {
		if t == nil {
			continue
		}
		addrs := values(t.AddressSet)
		for _, extra := range t.AddressExtraSet {
			if extra != nil {
				addrs = appendMissing(addrs, deref(extra.Address))
			}
		}
		out = append(out, diag.AddressTemplate{ID: deref(t.AddressTemplateId), Addresses: addrs})
	}
	return out, nil
}

// AddressTemplateGroups returns the IP address template groups among ids,
// each with its member templates' IDs (vpc:DescribeAddressTemplateGroups).
// At most 100 IDs are looked up; no ids means no call.
//
// API docs: https://www.tencentcloud.com/document/api/215/16716
func (c *Client) AddressTemplateGroups(ctx context.Context, region string, ids []string) ([]diag.TemplateGroup, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cli, err := c.vpcClient(region)
	if err != nil {
		return nil, err
	}
	req := vpc.NewDescribeAddressTemplateGroupsRequest()
	req.Filters = []*vpc.Filter{vpcFilter("address-template-group-id", firstIDs(ids)...)}
	req.Limit = &templateLimit
	resp, err := call(ctx, c, describeAddressTemplateGroups, region, cli.DescribeAddressTemplateGroupsWithContext, req)
	if err != nil {
		return nil, err
	}
	var out []diag.TemplateGroup
	for _, g := range resp.Response.AddressTemplateGroupSet {
		if g == nil {
			continue
		}
		members := values(g.AddressTemplateIdSet)
		for _, item := range g.AddressTemplateSet {
			if item != nil {
				members = appendMissing(members, deref(item.AddressTemplateId))
			}
		}
		out = append(out, diag.TemplateGroup{ID: deref(g.AddressTemplateGroupId), Members: members})
	}
	return out, nil
}

// ServiceTemplates returns the protocol port templates among ids, each with
// its entries such as "tcp:22", plain or with remarks
// (vpc:DescribeServiceTemplates). At most 100 IDs are looked up; no ids means
// no call.
//
// API docs: https://www.tencentcloud.com/document/api/215/16719
func (c *Client) ServiceTemplates(ctx context.Context, region string, ids []string) ([]diag.ServiceTemplate, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cli, err := c.vpcClient(region)
	if err != nil {
		return nil, err
	}
	req := vpc.NewDescribeServiceTemplatesRequest()
	req.Filters = []*vpc.Filter{vpcFilter("service-template-id", firstIDs(ids)...)}
	req.Limit = &templateLimit
	resp, err := call(ctx, c, describeServiceTemplates, region, cli.DescribeServiceTemplatesWithContext, req)
	if err != nil {
		return nil, err
	}
	var out []diag.ServiceTemplate
	for _, t := range resp.Response.ServiceTemplateSet {
		if t != nil {
			out = append(out, serviceTemplateFrom(t))
		}
	}
	return out, nil
}

func serviceTemplateFrom(t *vpc.ServiceTemplate) diag.ServiceTemplate {
	services := values(t.ServiceSet)
	for _, extra := range t.ServiceExtraSet {
		if extra != nil {
			services = appendMissing(services, deref(extra.Service))
		}
	}
	return diag.ServiceTemplate{ID: deref(t.ServiceTemplateId), Services: services}
}

// ServiceTemplateGroups returns the protocol port template groups among ids,
// each with its member templates' IDs (vpc:DescribeServiceTemplateGroups).
// At most 100 IDs are looked up; no ids means no call.
//
// API docs: https://www.tencentcloud.com/document/api/215/16718
func (c *Client) ServiceTemplateGroups(ctx context.Context, region string, ids []string) ([]diag.TemplateGroup, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cli, err := c.vpcClient(region)
	if err != nil {
		return nil, err
	}
	req := vpc.NewDescribeServiceTemplateGroupsRequest()
	req.Filters = []*vpc.Filter{vpcFilter("service-template-group-id", firstIDs(ids)...)}
	req.Limit = &templateLimit
	resp, err := call(ctx, c, describeServiceTemplateGroups, region, cli.DescribeServiceTemplateGroupsWithContext, req)
	if err != nil {
		return nil, err
	}
	var out []diag.TemplateGroup
	for _, g := range resp.Response.ServiceTemplateGroupSet {
		if g == nil {
			continue
		}
		members := values(g.ServiceTemplateIdSet)
		for _, t := range g.ServiceTemplateSet {
			if t != nil {
				members = appendMissing(members, deref(t.ServiceTemplateId))
			}
		}
		out = append(out, diag.TemplateGroup{ID: deref(g.ServiceTemplateGroupId), Members: members})
	}
	return out, nil
}

// firstIDs returns at most maxTemplates of ids: one filter's worth.
func firstIDs(ids []string) []string { return ids[:min(len(ids), maxTemplates)] }

// appendMissing appends s to list unless it is empty or already there.
func appendMissing(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
