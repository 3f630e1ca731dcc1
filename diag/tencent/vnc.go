package tencent

import (
	"context"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	cvm "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/cvm/v20170312"
)

// InstanceVNCURL returns the websocket address of the instance's VNC console
// (cvm:DescribeInstanceVncUrl). Tencent makes it valid for 15 seconds and
// for one connection, so it is fetched when someone asks and never kept.
//
// API docs: https://www.tencentcloud.com/document/api/213/33259
func (c *Client) InstanceVNCURL(ctx context.Context, region, instanceID string) (string, error) {
	cli, err := c.cvmClient(region)
	if err != nil {
		return "", err
	}
	req := cvm.NewDescribeInstanceVncUrlRequest()
	req.InstanceId = common.StringPtr(instanceID)
	resp, err := call(ctx, c, describeInstanceVncURL, region, cli.DescribeInstanceVncUrlWithContext, req)
	if err != nil {
		return "", err
	}
	return deref(resp.Response.InstanceVncUrl), nil
}
