package tencent

import (
	"context"

	antiddos "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/antiddos/v20200309"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
)

// BasicDeviceStatus maps each of ips to its basic DDoS protection status:
// "1" blocked (black hole), "2" normal, "3" under attack
// (antiddos:DescribeBasicDeviceStatus). No ips means no call and an empty map.
// Queries are merged with concurrent ones (see batcher).
//
// API docs: https://cloud.tencent.com/document/product/297/95386
func (c *Client) BasicDeviceStatus(ctx context.Context, region string, ips []string) (map[string]string, error) {
	status := make(map[string]string, len(ips))
	if len(ips) == 0 {
		return status, nil
	}
	if !isUnbatched(ctx) {
		return c.batchedDeviceStatus(ctx, region, ips)
	}
	cli, err := serviceClient(c, "antiddos", region, antiddos.NewClient)
	if err != nil {
		return nil, err
	}
	req := antiddos.NewDescribeBasicDeviceStatusRequest()
	req.IpList = common.StringPtrs(ips)
	resp, err := call(ctx, c, describeBasicDeviceStatus, region, cli.DescribeBasicDeviceStatusWithContext, req)
	if err != nil {
		return nil, err
	}
	for _, kv := range resp.Response.Data {
		if kv != nil && kv.Key != nil {
			status[*kv.Key] = deref(kv.Value)
		}
	}
	return status, nil
}
