package tencent

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/cvmlogin/cvmlogin/diag"
)

func TestAddresses(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeAddresses", success(`"TotalCount": 2, "AddressSet": [
	  {"AddressId": "eip-11111111", "AddressName": null, "AddressStatus": "BIND", "AddressIp": "1.2.3.4",
	   "InstanceId": "ins-abc12345", "InstanceType": "CVM", "IsArrears": false, "IsBlocked": true,
	   "AddressType": "WanIP", "Bandwidth": 5},
	  {"AddressId": "eip-22222222", "AddressStatus": "UNBIND", "AddressIp": "5.6.7.8",
	   "IsArrears": true, "AddressType": "EIP"}]`))
	c := newTestClient(t, f, nil, nil)

	got, err := c.Addresses(context.Background(), testRegion, []string{"1.2.3.4", "5.6.7.8"})
	if err != nil {
		t.Fatalf("Addresses: %v", err)
	}
	want := []diag.Address{
		{IP: "1.2.3.4", ID: "eip-11111111", Type: "WanIP", Status: "BIND", InstanceID: "ins-abc12345", IsBlocked: true},
		{IP: "5.6.7.8", ID: "eip-22222222", Type: "EIP", Status: "UNBIND", IsArrears: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Addresses =\n%+v\nwant\n%+v", got, want)
	}
	wantBody := `{"Filters":[{"Name":"address-ip","Values":["1.2.3.4","5.6.7.8"]},` +
		`{"Name":"address-type","Values":["WanIP","EIP","AnycastEIP","HighQualityEIP","AntiDDoSEIP","ResidentialEIP"]}],"Limit":100}`
	if body := jsonOf(t, f.only().body); body != wantBody {
		t.Errorf("request body %s, want %s", body, wantBody)
	}
}

func TestAddressesOfNoIPsCallsNothing(t *testing.T) {
	f := newFakeCloud(t)
	c := newTestClient(t, f, nil, nil)
	if got, err := c.Addresses(context.Background(), testRegion, nil); err != nil || len(got) != 0 {
		t.Errorf("Addresses(nil) = %v, %v; want none, nil", got, err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("sent %d requests, want 0", n)
	}
}

// A DescribeSecurityGroupPolicies reply as the official example has it:
// Version a number, an extra Direction field, lower-case values, and rules
// out of PolicyIndex order.
const sgPoliciesFixture = `"SecurityGroupPolicySet": {
  "Version": %s,
  "Ingress": [
    {"PolicyIndex": 2, "Protocol": "ALL", "Port": "all", "CidrBlock": "0.0.0.0/0", "Action": "drop",
     "Direction": "INGRESS", "PolicyDescription": "deny the rest", "ModifyTime": "2026-01-01 00:00:00",
     "ServiceTemplate": {"ServiceId": "", "ServiceGroupId": ""}, "AddressTemplate": {"AddressId": "", "AddressGroupId": ""}},
    {"PolicyIndex": 0, "Protocol": "tcp", "Port": 22, "CidrBlock": "10.0.0.0/8", "Action": "accept", "Direction": "INGRESS"},
    {"PolicyIndex": 1, "SecurityGroupId": "sg-33333333", "ServiceTemplate": {"ServiceId": "", "ServiceGroupId": "ppmg-12345678"},
     "Action": "ACCEPT"},
    {"PolicyIndex": 3, "Protocol": "TCP", "Port": "3389", "AddressTemplate": {"AddressId": "ipm-12345678", "AddressGroupId": ""},
     "Ipv6CidrBlock": "", "Action": "ACCEPT"}
  ],
  "Egress": [
    {"PolicyIndex": 0, "Protocol": "ALL", "Port": "ALL", "Ipv6CidrBlock": "::/0", "Action": "ACCEPT", "Direction": "EGRESS"}
  ],
  "PolicyStatistics": {"IngressPolicyCount": 4, "EgressPolicyCount": 1, "TotalCount": 5}
}`

func TestSecurityGroupPoliciesParsesLeniently(t *testing.T) {
	wantIngress := []diag.SecurityGroupPolicy{
		{Index: 0, Protocol: "tcp", Port: "22", CidrBlock: "10.0.0.0/8", Action: "accept"},
		{Index: 1, SourceGroupID: "sg-33333333", ServiceTemplate: "ppmg-12345678", Action: "ACCEPT"},
		{Index: 2, Protocol: "ALL", Port: "all", CidrBlock: "0.0.0.0/0", Action: "drop", Description: "deny the rest"},
		{Index: 3, Protocol: "TCP", Port: "3389", AddressTemplate: "ipm-12345678", Action: "ACCEPT"},
	}
	wantEgress := []diag.SecurityGroupPolicy{{Index: 0, Protocol: "ALL", Port: "ALL", Ipv6CidrBlock: "::/0", Action: "ACCEPT"}}
	for _, version := range []struct{ sent, want string }{{"60", "60"}, {`"61"`, "61"}, {"null", ""}} {
		t.Run("version "+version.sent, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on("DescribeSecurityGroupPolicies", success(fmt.Sprintf(sgPoliciesFixture, version.sent)))
			c := newTestClient(t, f, nil, nil)
			ctx, calls := withCallLog()

			got, err := c.SecurityGroupPolicies(ctx, testRegion, "sg-12345678")
			if err != nil {
				t.Fatalf("SecurityGroupPolicies: %v", err)
			}
			want := diag.SecurityGroupPolicies{GroupID: "sg-12345678", Version: version.want, Ingress: wantIngress, Egress: wantEgress}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("SecurityGroupPolicies =\n%+v\nwant\n%+v", got, want)
			}
			if body := jsonOf(t, f.only().body); body != `{"SecurityGroupId":"sg-12345678"}` {
				t.Errorf("request body %s", body)
			}
			if log := calls.Calls(); len(log) != 1 || log[0].RequestID != "req-ok" || log[0].Attempts != 1 {
				t.Errorf("call log %+v, want one call with request ID req-ok", log)
			}
		})
	}
}

func TestSecurityGroupPoliciesErrors(t *testing.T) {
	tests := []struct {
		name  string
		reply reply
		want  diag.ErrorKind
	}{
		{"not found", failure("ResourceNotFound", "sg-12345678 does not exist"), diag.KindNotFound},
		{"version not a string or number", success(fmt.Sprintf(sgPoliciesFixture, "true")), diag.KindUnavailable},
		{"no Response object", reply{body: `{}`}, diag.KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on("DescribeSecurityGroupPolicies", tt.reply)
			c := newTestClient(t, f, nil, nil)
			_, err := c.SecurityGroupPolicies(context.Background(), testRegion, "sg-12345678")
			if diag.KindOf(err) != tt.want {
				t.Errorf("SecurityGroupPolicies: %v, want kind %s", err, tt.want)
			}
		})
	}
}

func TestCreateIngressPolicies(t *testing.T) {
	rules := []diag.SecurityGroupPolicy{
		{Index: 7, Protocol: "TCP", Port: "22", CidrBlock: "0.0.0.0/0", Action: "ACCEPT", Description: "cvmlogin:fix-1"},
		{Protocol: "ICMP", Port: "ALL", CidrBlock: "0.0.0.0/0", Action: "ACCEPT", Description: "cvmlogin:fix-1"},
		{Protocol: "ALL", Port: "ALL", AddressTemplate: "ipmg-12345678", Action: "ACCEPT"},
	}
	wantIngress := `[` +
		`{"Action":"ACCEPT","CidrBlock":"0.0.0.0/0","PolicyDescription":"cvmlogin:fix-1","PolicyIndex":0,"Port":"22","Protocol":"TCP"},` +
		`{"Action":"ACCEPT","CidrBlock":"0.0.0.0/0","PolicyDescription":"cvmlogin:fix-1","PolicyIndex":0,"Protocol":"ICMP"},` +
		`{"Action":"ACCEPT","AddressTemplate":{"AddressGroupId":"ipmg-12345678"},"PolicyIndex":0,"Protocol":"ALL"}]`
	tests := []struct {
		version, wantSet string
	}{
		{"60", `{"Ingress":` + wantIngress + `,"Version":"60"}`},
		{"", `{"Ingress":` + wantIngress + `}`},
	}
	for _, tt := range tests {
		t.Run("version "+tt.version, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on("CreateSecurityGroupPolicies", success(""))
			c := newTestClient(t, f, nil, nil)

			requestID, err := c.CreateIngressPolicies(context.Background(), testRegion, "sg-12345678", tt.version, rules)
			if err != nil || requestID != "req-ok" {
				t.Fatalf("CreateIngressPolicies = %q, %v; want req-ok, nil", requestID, err)
			}
			body := f.only().body
			if id := field(body, "SecurityGroupId"); id != "sg-12345678" {
				t.Errorf("SecurityGroupId %v", id)
			}
			if set := jsonOf(t, field(body, "SecurityGroupPolicySet")); set != tt.wantSet {
				t.Errorf("SecurityGroupPolicySet\n%s\nwant\n%s", set, tt.wantSet)
			}
		})
	}
}

func TestCreateIngressPoliciesVersionMismatch(t *testing.T) {
	f := newFakeCloud(t)
	f.on("CreateSecurityGroupPolicies", failure("UnsupportedOperation.VersionMismatch", "the version changed"))
	c := newTestClient(t, f, nil, nil)
	rules := []diag.SecurityGroupPolicy{{Protocol: "TCP", Port: "22", CidrBlock: "0.0.0.0/0", Action: "ACCEPT"}}
	_, err := c.CreateIngressPolicies(context.Background(), testRegion, "sg-12345678", "59", rules)
	if diag.KindOf(err) != diag.KindConflict {
		t.Errorf("CreateIngressPolicies: %v, want kind conflict", err)
	}
}

func TestDeleteIngressPolicies(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DeleteSecurityGroupPolicies", success(""))
	c := newTestClient(t, f, nil, nil)

	requestID, err := c.DeleteIngressPolicies(context.Background(), testRegion, "sg-12345678", "61", []int{0, 3})
	if err != nil || requestID != "req-ok" {
		t.Fatalf("DeleteIngressPolicies = %q, %v; want req-ok, nil", requestID, err)
	}
	want := `{"SecurityGroupId":"sg-12345678","SecurityGroupPolicySet":{"Ingress":[{"PolicyIndex":0},{"PolicyIndex":3}],"Version":"61"}}`
	if body := jsonOf(t, f.only().body); body != want {
		t.Errorf("request body\n%s\nwant\n%s", body, want)
	}
}

func TestChangingNoPoliciesCallsNothing(t *testing.T) {
	f := newFakeCloud(t)
	c := newTestClient(t, f, nil, nil)
	if _, err := c.CreateIngressPolicies(context.Background(), testRegion, "sg-12345678", "1", nil); err == nil {
		t.Error("CreateIngressPolicies with no rules succeeded")
	}
	if _, err := c.DeleteIngressPolicies(context.Background(), testRegion, "sg-12345678", "1", nil); err == nil {
		t.Error("DeleteIngressPolicies with no indexes succeeded")
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("sent %d requests, want 0", n)
	}
}
