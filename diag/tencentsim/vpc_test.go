package tencentsim

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestDescribeAddressesWanIPSurprise(t *testing.T) {
	sim, client := startSim(t, newFakeClock(), Options{})
	eip := DefaultScenario()
	eip.ID, eip.PublicIPs, eip.Address.Type = "ins-eip00001", []string{"127.0.0.77"}, "EIP"
	if err := sim.AddScenario(eip); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, filters string
		wantIPs       string
	}{
		{"no address-type: EIPs only", `[{"Name":"address-ip","Values":["127.0.0.11","127.0.0.77"]}]`, "[127.0.0.77]"},
		{"WanIP asked for", `[{"Name":"address-ip","Values":["127.0.0.11","127.0.0.77"]},{"Name":"address-type","Values":["WanIP"]}]`, "[127.0.0.11]"},
		{"both types", `[{"Name":"address-ip","Values":["127.0.0.11","127.0.0.77"]},{"Name":"address-type","Values":["WanIP","EIP"]}]`, "[127.0.0.11 127.0.0.77]"},
		{"by instance", `[{"Name":"instance-id","Values":["ins-blocked1"]},{"Name":"address-type","Values":["WanIP"]},{"Name":"is-arrears","Values":["FALSE"]}]`, "[127.0.0.19]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out struct{ AddressSet []struct{ AddressIp string } }
			client.mustCall("vpc", "DescribeAddresses", `{"Filters":`+tt.filters+`}`, &out)
			var ips []string
			for _, a := range out.AddressSet {
				ips = append(ips, a.AddressIp)
			}
			if got := "[" + strings.Join(ips, " ") + "]"; got != tt.wantIPs {
				t.Errorf("addresses %s, want %s", got, tt.wantIPs)
			}
		})
	}
}

func TestOpenPortMakesItReachable(t *testing.T) {
	sim, client := startSim(t, newFakeClock(), Options{})
	dialer := sim.Dialer()
	if conn, err := dialShort(dialer, "127.0.0.20:22"); err == nil || !isTimeout(err) {
		closeIfAny(conn)
		t.Fatalf("before the fix: dial = %v, want a timeout (DROP ALL first)", err)
	}
	// The version number comes as a JSON number; send it back as a string,
	// as the SDK does.
	if got := field(t, client.mustCall("vpc", "DescribeSecurityGroupPolicies", `{"SecurityGroupId":"sg-sgdrop01"}`, nil).raw,
		"SecurityGroupPolicySet.Version"); got != "1" {
		t.Fatalf("Version %s, want 1", got)
	}
	open := `{"SecurityGroupId":"sg-sgdrop01","SecurityGroupPolicySet":{"Version":"1","Ingress":[` +
		`{"PolicyIndex":0,"Protocol":"TCP","Port":"22","CidrBlock":"0.0.0.0/0","Action":"ACCEPT","PolicyDescription":"cvmlogin:open_login_port"},` +
		`{"PolicyIndex":0,"Protocol":"ICMP","CidrBlock":"0.0.0.0/0","Action":"ACCEPT","PolicyDescription":"cvmlogin:open_login_port"}]}}`
	client.mustCall("vpc", "CreateSecurityGroupPolicies", open, nil)

	r := client.mustCall("vpc", "DescribeSecurityGroupPolicies", `{"SecurityGroupId":"sg-sgdrop01"}`, nil)
	if !strings.Contains(string(r.raw), `"Version":"2",`) {
		t.Errorf("Version is not the JSON string \"2\" (the SDK model declares a string): %s", r.raw)
	}
	want := map[string]string{
		"SecurityGroupPolicySet.Ingress.0.PolicyIndex": "0", "SecurityGroupPolicySet.Ingress.0.Port": "22",
		"SecurityGroupPolicySet.Ingress.0.PolicyDescription": "cvmlogin:open_login_port",
		"SecurityGroupPolicySet.Ingress.1.PolicyIndex":       "1", "SecurityGroupPolicySet.Ingress.1.Protocol": "ICMP",
		"SecurityGroupPolicySet.Ingress.1.Port":        "ALL",
		"SecurityGroupPolicySet.Ingress.2.PolicyIndex": "2", "SecurityGroupPolicySet.Ingress.2.Action": "DROP",
		"SecurityGroupPolicySet.Ingress.4.PolicyIndex": "4", "SecurityGroupPolicySet.Ingress.5": "<missing>",
	}
	for path, w := range want {
		if got := field(t, r.raw, path); got != w {
			t.Errorf("%s = %s, want %s", path, got, w)
		}
	}
	if again := client.call("vpc", "CreateSecurityGroupPolicies", open); again.code() != codeVersionMismatch {
		t.Errorf("replaying the create with Version 1: %q, want %s", again.code(), codeVersionMismatch)
	}

	conn, err := dialer.DialContext(context.Background(), "tcp", "127.0.0.20:22")
	if err != nil {
		t.Fatalf("after the fix: dial: %v", err)
	}
	defer conn.Close()
	if got := conn.RemoteAddr().String(); got != "127.0.0.20:22" {
		t.Errorf("RemoteAddr %s, want the simulated 127.0.0.20:22", got)
	}
	sc, _ := sim.Scenario("ins-sgdrop01")
	if got := sc.SecurityGroups[0].Ingress[0]; got.Port != "22" || got.Description != "cvmlogin:open_login_port" {
		t.Errorf("Scenario shows rule 0 as %+v, want the opened port", got)
	}
}

func TestDeleteByIndexChecksVersion(t *testing.T) {
	_, client := startSim(t, newFakeClock(), Options{})
	client.mustCall("vpc", "CreateSecurityGroupPolicies", `{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Ingress":[`+
		`{"PolicyIndex":0,"Protocol":"TCP","Port":"80","CidrBlock":"0.0.0.0/0","Action":"ACCEPT","PolicyDescription":"cvmlogin:open_all_ports"}]}}`, nil)

	stale := client.call("vpc", "DeleteSecurityGroupPolicies", `{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Version":"1","Ingress":[{"PolicyIndex":0}]}}`)
	if stale.code() != codeVersionMismatch {
		t.Fatalf("delete with the stale version: %q, want %s", stale.code(), codeVersionMismatch)
	}
	client.mustCall("vpc", "DeleteSecurityGroupPolicies", `{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Version":"2","Ingress":[{"PolicyIndex":0}]}}`, nil)
	r := client.mustCall("vpc", "DescribeSecurityGroupPolicies", `{"SecurityGroupId":"sg-linux001"}`, nil)
	for path, want := range map[string]string{
		"SecurityGroupPolicySet.Version": "3", "SecurityGroupPolicySet.Ingress.0.Port": "22", "SecurityGroupPolicySet.Ingress.3": "<missing>",
	} {
		if got := field(t, r.raw, path); got != want {
			t.Errorf("after delete: %s = %s, want %s", path, got, want)
		}
	}
}

func TestSecurityGroupsAreRegional(t *testing.T) {
	_, client := startSim(t, newFakeClock(), Options{})
	client.region = "ap-shanghai"
	if r := client.call("vpc", "DescribeSecurityGroupPolicies", `{"SecurityGroupId":"sg-linux001"}`); r.code() != codeResourceNotFound {
		t.Errorf("group from another region: %q, want %s", r.code(), codeResourceNotFound)
	}
	if got := field(t, client.mustCall("cvm", "DescribeInstances", `{"InstanceIds":["ins-linux001"]}`, nil).raw, "TotalCount"); got != "0" {
		t.Errorf("instance from another region: TotalCount %s, want 0", got)
	}
}

func TestNestedUnknownParameter(t *testing.T) {
	_, client := startSim(t, newFakeClock(), Options{})
	r := client.call("vpc", "CreateSecurityGroupPolicies", `{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Ingress":[`+
		`{"Protocol":"TCP","port":"80","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}]}}`)
	if r.code() != codeUnknownParameter || !strings.Contains(r.Error.Message, "SecurityGroupPolicySet.Ingress[0].port") {
		t.Errorf("lower-case port: %v, want UnknownParameter naming SecurityGroupPolicySet.Ingress[0].port", r.Error)
	}
}

// dialShort dials with a short deadline, for addresses expected to drop.
func dialShort(d *Dialer, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	return d.DialContext(ctx, "tcp", addr)
}
