package tencent

import (
	"context"
	"reflect"
	"testing"
)

func TestBasicDeviceStatus(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeBasicDeviceStatus", success(`"Data": [{"Key": "1.2.3.4", "Value": "1"}, {"Key": "5.6.7.8", "Value": "2"}],
	  "CLBData": [], "CnameWafData": []`))
	c := newTestClient(t, f, nil, nil)

	got, err := c.BasicDeviceStatus(context.Background(), testRegion, []string{"1.2.3.4", "5.6.7.8"})
	if err != nil {
		t.Fatalf("BasicDeviceStatus: %v", err)
	}
	if want := map[string]string{"1.2.3.4": "1", "5.6.7.8": "2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("BasicDeviceStatus = %v, want %v", got, want)
	}
	if body := jsonOf(t, f.only().body); body != `{"IpList":["1.2.3.4","5.6.7.8"]}` {
		t.Errorf("request body %s", body)
	}
}

func TestBasicDeviceStatusOfNoIPsCallsNothing(t *testing.T) {
	f := newFakeCloud(t)
	c := newTestClient(t, f, nil, nil)
	if got, err := c.BasicDeviceStatus(context.Background(), testRegion, nil); err != nil || len(got) != 0 {
		t.Errorf("BasicDeviceStatus(nil) = %v, %v; want empty, nil", got, err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("sent %d requests, want 0", n)
	}
}
