package tencent

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

// A DescribeInstances reply in the documented shape, with one fully described
// instance and one whose PublicIpAddresses is null.
const describeInstancesReply = `"TotalCount": 2,
"InstanceSet": [
  {"Placement": {"Zone": "ap-guangzhou-6", "ProjectId": 0},
   "InstanceId": "ins-abc12345", "InstanceType": "S5.MEDIUM2", "CPU": 2, "Memory": 2,
   "RestrictState": "NORMAL", "InstanceName": "web-1", "InstanceChargeType": "PREPAID",
   "PrivateIpAddresses": ["10.0.0.3"], "PublicIpAddresses": ["1.2.3.4"],
   "InternetAccessible": {"InternetChargeType": "TRAFFIC_POSTPAID_BY_HOUR", "InternetMaxBandwidthOut": 5},
   "VirtualPrivateCloud": {"VpcId": "vpc-12345678", "SubnetId": "subnet-12345678", "AsVpcGateway": false},
   "ImageId": "img-9qabwvbn", "RenewFlag": "NOTIFY_AND_MANUAL_RENEW",
   "CreatedTime": "2026-01-01T00:00:00Z", "ExpiredTime": "2026-12-01T00:00:00Z",
   "OsName": "CentOS 7.6 64bit", "SecurityGroupIds": ["sg-22222222", "sg-11111111"],
   "InstanceState": "RUNNING", "Tags": [{"Key": "cvmlogin", "Value": "allowed"}], "StopChargingMode": "NOT_APPLICABLE",
   "LatestOperation": "RebootInstances", "LatestOperationState": "FAILED",
   "LatestOperationRequestId": "req-reboot", "LatestOperationErrorMsg": "soft shutdown timed out",
   "IsolatedSource": "NOTISOLATED", "DefaultLoginUser": "root", "DefaultLoginPort": 22,
   "IPv6Addresses": ["2402:4e00:1013::1"], "PublicIPv6Addresses": ["2402:4e00:1013::1"]},
  {"InstanceId": "ins-nopublic", "InstanceName": "db-1", "InstanceState": "STOPPED",
   "PrivateIpAddresses": ["10.0.0.4"], "PublicIpAddresses": null, "ExpiredTime": null,
   "InternetAccessible": {"InternetMaxBandwidthOut": 0}, "SecurityGroupIds": ["sg-11111111"]}
]`

func TestFindInstancesMapsEveryField(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeInstances", success(describeInstancesReply))
	c := newTestClient(t, f, nil, nil)

	got, err := c.FindInstances(context.Background(), testRegion, diag.InstanceQuery{Name: "web"})
	if err != nil {
		t.Fatalf("FindInstances: %v", err)
	}
	expired := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	want := []diag.Instance{{
		ID: "ins-abc12345", Name: "web-1", Zone: "ap-guangzhou-6", State: "RUNNING",
		RestrictState: "NORMAL", IsolatedSource: "NOTISOLATED", ChargeType: "PREPAID",
		RenewFlag: "NOTIFY_AND_MANUAL_RENEW", PublicIPv6s: []string{"2402:4e00:1013::1"},
		ExpiredTime: &expired, OSName: "CentOS 7.6 64bit", ImageID: "img-9qabwvbn",
		PublicIPs: []string{"1.2.3.4"}, PrivateIPs: []string{"10.0.0.3"},
		BandwidthOutMbps: 5, InternetChargeType: "TRAFFIC_POSTPAID_BY_HOUR",
		SecurityGroupIDs: []string{"sg-22222222", "sg-11111111"}, VpcID: "vpc-12345678",
		DefaultLoginPort: 22, DefaultLoginUser: "root",
		LatestOperation: "RebootInstances", LatestOperationState: "FAILED",
		LatestOperationRequestID: "req-reboot", LatestOperationErrorMsg: "soft shutdown timed out",
		Tags: map[string]string{"cvmlogin": "allowed"},
	}, {
		ID: "ins-nopublic", Name: "db-1", State: "STOPPED",
		PrivateIPs: []string{"10.0.0.4"}, SecurityGroupIDs: []string{"sg-11111111"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FindInstances =\n%+v\nwant\n%+v", got, want)
	}
	if req := f.only(); req.region != testRegion || req.language != "en-US" {
		t.Errorf("X-TC-Region %q, X-TC-Language %q; want %q, en-US", req.region, req.language, testRegion)
	}
}

func TestFindInstancesQueries(t *testing.T) {
	tests := []struct {
		name string
		q    diag.InstanceQuery
		want string // the request body
	}{
		{"id", diag.InstanceQuery{ID: "ins-abc12345"}, `{"InstanceIds":["ins-abc12345"],"Limit":100}`},
		{"public ip", diag.InstanceQuery{PublicIP: "1.2.3.4"},
			`{"Filters":[{"Name":"public-ip-address","Values":["1.2.3.4"]}],"Limit":100}`},
		{"name", diag.InstanceQuery{Name: "web-1"},
			`{"Filters":[{"Name":"instance-name","Values":["web-1"]}],"Limit":100}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on("DescribeInstances", success(`"TotalCount":0,"InstanceSet":[]`))
			c := newTestClient(t, f, nil, nil)

			got, err := c.FindInstances(context.Background(), testRegion, tt.q)
			if err != nil || len(got) != 0 {
				t.Fatalf("FindInstances = %v, %v; want none, nil", got, err)
			}
			if body := jsonOf(t, f.only().body); body != tt.want {
				t.Errorf("request body %s, want %s", body, tt.want)
			}
		})
	}
}

func TestFindInstancesEmptyQuery(t *testing.T) {
	f := newFakeCloud(t)
	c := newTestClient(t, f, nil, nil)
	if _, err := c.FindInstances(context.Background(), testRegion, diag.InstanceQuery{}); err == nil {
		t.Error("FindInstances with an empty query succeeded")
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("sent %d requests, want 0", n)
	}
}

func TestImagePlatform(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeImages",
		success(`"TotalCount":1,"ImageSet":[{"ImageId":"img-9qabwvbn","OsName":"Windows Server 2019","Platform":"Windows","ImageType":"PUBLIC_IMAGE"}]`),
		success(`"TotalCount":0,"ImageSet":[]`))
	c := newTestClient(t, f, nil, nil)

	got, err := c.ImagePlatform(context.Background(), testRegion, "img-9qabwvbn")
	if err != nil || got != "Windows" {
		t.Errorf("ImagePlatform = %q, %v; want Windows, nil", got, err)
	}
	if body := jsonOf(t, f.requests()[0].body); body != `{"ImageIds":["img-9qabwvbn"]}` {
		t.Errorf("request body %s", body)
	}
	_, err = c.ImagePlatform(context.Background(), testRegion, "img-unknown0")
	if diag.KindOf(err) != diag.KindNotFound {
		t.Errorf("ImagePlatform of an unknown image: %v, want kind not_found", err)
	}
}

func TestRebootAndStartInstance(t *testing.T) {
	tests := []struct {
		action string
		do     func(*Client) (string, error)
		want   string // the request body
	}{
		{"RebootInstances", func(c *Client) (string, error) {
			return c.RebootInstance(context.Background(), testRegion, "ins-abc12345")
		}, `{"InstanceIds":["ins-abc12345"],"StopType":"SOFT_FIRST"}`},
		{"StartInstances", func(c *Client) (string, error) {
			return c.StartInstance(context.Background(), testRegion, "ins-abc12345")
		}, `{"InstanceIds":["ins-abc12345"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on(tt.action, success(""))
			requestID, err := tt.do(newTestClient(t, f, nil, nil))
			if err != nil || requestID != "req-ok" {
				t.Fatalf("= %q, %v; want req-ok, nil", requestID, err)
			}
			if body := jsonOf(t, f.only().body); body != tt.want {
				t.Errorf("request body %s, want %s", body, tt.want)
			}
		})
	}
}
