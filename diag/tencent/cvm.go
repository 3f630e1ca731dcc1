package tencent

import (
	"context"
	"errors"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	cvm "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/cvm/v20170312"

	"github.com/cvmlogin/cvmlogin/diag"
)

func (c *Client) cvmClient(region string) (*cvm.Client, error) {
	return serviceClient(c, "cvm", region, cvm.NewClient)
}

// maxInstances is DescribeInstances' page size limit.
const maxInstances = 100

// FindInstances returns the instances in region matching q, at most 100
// (cvm:DescribeInstances). No match is an empty result and a nil error.
// Lookups by ID are merged with concurrent ones (see batcher).
//
// API docs: https://cloud.tencent.com/document/api/213/15728
func (c *Client) FindInstances(ctx context.Context, region string, q diag.InstanceQuery) ([]diag.Instance, error) {
	if q.ID != "" {
		return c.instancesByID(ctx, region, q.ID)
	}
	req := cvm.NewDescribeInstancesRequest()
	req.Limit = common.Int64Ptr(maxInstances)
	switch {
	case q.PublicIP != "":
		req.Filters = []*cvm.Filter{cvmFilter("public-ip-address", q.PublicIP)}
	case q.Name != "":
		req.Filters = []*cvm.Filter{cvmFilter("instance-name", q.Name)}
	default:
		return nil, errors.New("tencent: finding instances: the query names no instance")
	}
	cli, err := c.cvmClient(region)
	if err != nil {
		return nil, err
	}
	resp, err := call(ctx, c, describeInstances, region, cli.DescribeInstancesWithContext, req)
	if err != nil {
		return nil, err
	}
	var instances []diag.Instance
	for _, in := range resp.Response.InstanceSet {
		if in != nil {
			instances = append(instances, instanceFrom(in))
		}
	}
	return instances, nil
}

func cvmFilter(name, value string) *cvm.Filter {
	return &cvm.Filter{Name: common.StringPtr(name), Values: common.StringPtrs([]string{value})}
}

func instanceFrom(in *cvm.Instance) diag.Instance {
	out := diag.Instance{
		ID:                       deref(in.InstanceId),
		Name:                     deref(in.InstanceName),
		State:                    deref(in.InstanceState),
		RestrictState:            deref(in.RestrictState),
		IsolatedSource:           deref(in.IsolatedSource),
		ChargeType:               deref(in.InstanceChargeType),
		RenewFlag:                deref(in.RenewFlag),
		ExpiredTime:              parseTime(deref(in.ExpiredTime)),
		OSName:                   deref(in.OsName),
		ImageID:                  deref(in.ImageId),
		PublicIPs:                values(in.PublicIpAddresses),
		PublicIPv6s:              values(in.PublicIPv6Addresses),
		PrivateIPs:               values(in.PrivateIpAddresses),
		SecurityGroupIDs:         values(in.SecurityGroupIds),
		DefaultLoginPort:         int(deref(in.DefaultLoginPort)),
		DefaultLoginUser:         deref(in.DefaultLoginUser),
		LatestOperation:          deref(in.LatestOperation),
		LatestOperationState:     deref(in.LatestOperationState),
		LatestOperationRequestID: deref(in.LatestOperationRequestId),
		LatestOperationErrorMsg:  deref(in.LatestOperationErrorMsg),
	}
	if in.Placement != nil {
		out.Zone = deref(in.Placement.Zone)
	}
	if len(in.Tags) > 0 {
		out.Tags = make(map[string]string, len(in.Tags))
		for _, tag := range in.Tags {
			out.Tags[deref(tag.Key)] = deref(tag.Value)
		}
	}
	if ia := in.InternetAccessible; ia != nil {
		out.BandwidthOutMbps = deref(ia.InternetMaxBandwidthOut)
		out.InternetChargeType = deref(ia.InternetChargeType)
	}
	if vpc := in.VirtualPrivateCloud; vpc != nil {
		out.VpcID = deref(vpc.VpcId)
	}
	return out
}

// parseTime parses an RFC 3339 time; empty or malformed (the field is
// informational) is nil.
func parseTime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil
	}
	return &t
}

// ImagePlatform returns an image's platform, e.g. "CentOS" or "Windows"
// (cvm:DescribeImages). It fails with KindNotFound if the image is unknown or
// has no platform.
//
// API docs: https://cloud.tencent.com/document/api/213/15715
func (c *Client) ImagePlatform(ctx context.Context, region, imageID string) (string, error) {
	cli, err := c.cvmClient(region)
	if err != nil {
		return "", err
	}
	req := cvm.NewDescribeImagesRequest()
	req.ImageIds = common.StringPtrs([]string{imageID})
	resp, err := call(ctx, c, describeImages, region, cli.DescribeImagesWithContext, req)
	if err != nil {
		return "", err
	}
	if set := resp.Response.ImageSet; len(set) > 0 && set[0] != nil && deref(set[0].Platform) != "" {
		return *set[0].Platform, nil
	}
	return "", &diag.APIError{
		Service:   describeImages.service,
		Action:    describeImages.name,
		Kind:      diag.KindNotFound,
		Message:   "no platform for image " + imageID,
		RequestID: deref(resp.Response.RequestId),
	}
}

// RebootInstance reboots an instance with StopType SOFT_FIRST: a soft
// shutdown, then a hard one if that fails (cvm:RebootInstances). It returns
// the request ID. A network or internal failure is not retried, since the
// reboot may have started.
//
// API docs: https://cloud.tencent.com/document/api/213/15742
func (c *Client) RebootInstance(ctx context.Context, region, instanceID string) (string, error) {
	cli, err := c.cvmClient(region)
	if err != nil {
		return "", err
	}
	req := cvm.NewRebootInstancesRequest()
	req.InstanceIds = common.StringPtrs([]string{instanceID})
	req.StopType = common.StringPtr("SOFT_FIRST")
	resp, err := call(ctx, c, rebootInstances, region, cli.RebootInstancesWithContext, req)
	if err != nil {
		return "", err
	}
	return deref(resp.Response.RequestId), nil
}

// StartInstance starts a stopped instance (cvm:StartInstances) and returns
// the request ID. Like RebootInstance, it is retried only when throttled.
func (c *Client) StartInstance(ctx context.Context, region, instanceID string) (string, error) {
	cli, err := c.cvmClient(region)
	if err != nil {
		return "", err
	}
	req := cvm.NewStartInstancesRequest()
	req.InstanceIds = common.StringPtrs([]string{instanceID})
	resp, err := call(ctx, c, startInstances, region, cli.StartInstancesWithContext, req)
	if err != nil {
		return "", err
	}
	return deref(resp.Response.RequestId), nil
}
