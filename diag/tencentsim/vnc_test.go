package tencentsim

import (
	"strings"
	"testing"
)

func TestDescribeInstanceVncURL(t *testing.T) {
	_, client := startSim(t, newFakeClock(), Options{})
	var out struct {
		InstanceVncURL string `json:"InstanceVncUrl"`
	}
	client.mustCall("cvm", "DescribeInstanceVncUrl", `{"InstanceId":"ins-linux001"}`, &out)
	if !strings.HasPrefix(out.InstanceVncURL, "wss://") {
		t.Errorf("InstanceVncUrl %q, want a wss:// address", out.InstanceVncURL)
	}
	for params, code := range map[string]string{
		`{"InstanceId":"ins-stopped1"}`: "UnsupportedOperation.InstanceStateStopped",
		`{"InstanceId":"ins-nothere1"}`: "InvalidInstanceId.NotFound",
	} {
		if r := client.call("cvm", "DescribeInstanceVncUrl", params); r.code() != code {
			t.Errorf("%s: %q, want %s", params, r.code(), code)
		}
	}
}
