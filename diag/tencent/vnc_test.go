package tencent

import (
	"context"
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
)

func TestInstanceVNCURL(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeInstanceVncUrl", success(`"InstanceVncUrl":"wss://bjvnc.qcloud.com:26789/vnc?s=abc"`),
		failure("UnsupportedOperation.InstanceStateStopped", "stopped"))
	c := newTestClient(t, f, nil, nil)
	got, err := c.InstanceVNCURL(context.Background(), testRegion, "ins-abc12345")
	if err != nil || got != "wss://bjvnc.qcloud.com:26789/vnc?s=abc" {
		t.Fatalf("= %q, %v", got, err)
	}
	if body := jsonOf(t, f.requests()[0].body); body != `{"InstanceId":"ins-abc12345"}` {
		t.Errorf("request body %s", body)
	}
	if _, err := c.InstanceVNCURL(context.Background(), testRegion, "ins-abc12345"); err == nil || diag.KindOf(err) == "" {
		t.Errorf("a stopped instance: %v, want a classified error", err)
	}
}
