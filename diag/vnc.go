package diag

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// VNCAPI opens the instance's VNC console (cvm:DescribeInstanceVncUrl).
type VNCAPI interface {
	// InstanceVNCURL returns the console's websocket address (wss://…). It
	// is valid for 15 seconds and for one connection only.
	InstanceVNCURL(ctx context.Context, region, instanceID string) (string, error)
}

// vncConsolePage is the page that connects a browser to an instance's VNC
// websocket; Tencent documents it on the DescribeInstanceVncUrl page
// (https://www.tencentcloud.com/document/api/213/33259).
const vncConsolePage = "https://img.qcloud.com/qcloud/app/active_vnc/index.html"

// VNCLinkLifetime is how long a VNC link works after it is made.
const VNCLinkLifetime = "15 seconds"

// VNCConsoleURL returns the browser link for a websocket address returned by
// DescribeInstanceVncUrl. It refuses anything but a wss:// address, so a
// tampered answer cannot turn into a link elsewhere.
func VNCConsoleURL(wss string) (string, error) {
	u, err := url.Parse(wss)
	if err != nil || u.Scheme != "wss" || u.Host == "" || strings.ContainsAny(wss, " <>|") {
		return "", fmt.Errorf("the VNC address is not a wss:// URL")
	}
	return vncConsolePage + "?InstanceVncUrl=" + url.QueryEscape(wss), nil
}
