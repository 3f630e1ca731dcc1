package tencentsim

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAdmits(t *testing.T) {
	internet := netip.MustParseAddr("198.51.100.10")
	refs := References{
		Templates: []Template{
			{ID: "ipm-office01", Members: []string{"203.0.113.0/24"}},
			{ID: "ipm-range001", Members: []string{"198.51.100.1-198.51.100.20"}},
			{ID: "ipmg-both001", Members: []string{"ipm-office01", "ipm-range001"}},
			{ID: "ppm-ssh00001", Members: []string{"tcp: 22"}},
			{ID: "ppm-udp00001", Members: []string{"udp:22"}},
			{ID: "ppmg-admin01", Members: []string{"ppm-udp00001", "ppm-ssh00001"}},
		},
		Members: map[string][]string{"sg-bastion1": {"10.0.0.5"}},
	}
	tcp22 := Packet{Source: internet, Protocol: "TCP", Port: 22}
	tests := []struct {
		name string
		rule Rule
		p    Packet
		want bool
	}{
		{"port list", Rule{Protocol: "tcp", Port: "80, 22,443", CidrBlock: anywhereIPv4}, tcp22, true},
		{"port range", Rule{Protocol: "TCP", Port: "20-25", CidrBlock: anywhereIPv4}, tcp22, true},
		{"range and list", Rule{Protocol: "TCP", Port: "80,20-21", CidrBlock: anywhereIPv4}, tcp22, false},
		{"empty port is all", Rule{Protocol: "TCP", CidrBlock: anywhereIPv4}, tcp22, true},
		{"unparseable port matches nothing", Rule{Protocol: "TCP", Port: "22x", CidrBlock: anywhereIPv4}, tcp22, false},
		{"reversed range matches nothing", Rule{Protocol: "TCP", Port: "25-20", CidrBlock: anywhereIPv4}, tcp22, false},
		{"udp rule, tcp packet", Rule{Protocol: "UDP", Port: "22", CidrBlock: anywhereIPv4}, tcp22, false},
		{"GRE rule, tcp packet", Rule{Protocol: "GRE", CidrBlock: anywhereIPv4}, tcp22, false},
		{"ICMPv6 rule, ICMPv6 packet", Rule{Protocol: "icmpv6", Ipv6CidrBlock: anywhereIPv6}, Packet{Source: ProbeSourceV6, Protocol: "ICMPv6"}, true},
		{"IPv6 rule, IPv4 source", Rule{Protocol: "ALL", Ipv6CidrBlock: anywhereIPv6}, tcp22, false},
		{"IPv4 rule, IPv6 source", Rule{Protocol: "ALL", CidrBlock: anywhereIPv4}, Packet{Source: ProbeSourceV6, Protocol: "TCP", Port: 22}, false},
		{"CIDR holds the source", Rule{Protocol: "ALL", CidrBlock: "198.51.100.0/24"}, tcp22, true},
		{"single address", Rule{Protocol: "ALL", CidrBlock: "198.51.100.11"}, tcp22, false},
		{"group source: the internet is not a member", Rule{Protocol: "ALL", SourceGroupID: "sg-bastion1"}, tcp22, false},
		{"group source: a member", Rule{Protocol: "ALL", SourceGroupID: "sg-bastion1"}, Packet{Source: netip.MustParseAddr("10.0.0.5"), Protocol: "TCP", Port: 22}, true},
		{"address template range", Rule{Protocol: "ALL", AddressTemplate: "ipm-range001"}, tcp22, true},
		{"address template group", Rule{Protocol: "ALL", AddressTemplate: "ipmg-both001"}, tcp22, true},
		{"address template without the source", Rule{Protocol: "ALL", AddressTemplate: "ipm-office01"}, tcp22, false},
		{"unknown template", Rule{Protocol: "ALL", AddressTemplate: "ipm-zzzzzzzz"}, tcp22, false},
		{"service template", Rule{ServiceTemplate: "ppm-ssh00001", CidrBlock: anywhereIPv4}, tcp22, true},
		{"service template group", Rule{ServiceTemplate: "ppmg-admin01", CidrBlock: anywhereIPv4}, tcp22, true},
		{"service template, other protocol", Rule{ServiceTemplate: "ppm-udp00001", CidrBlock: anywhereIPv4}, tcp22, false},
		{"no source", Rule{Protocol: "ALL"}, tcp22, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rule.Action = actionAccept
			if got := Admits([]SecurityGroup{{ID: "sg-a", Ingress: []Rule{tt.rule}}}, refs, tt.p); got != tt.want {
				t.Fatalf("Admits = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAdmitsFirstMatchInBindingOrder(t *testing.T) {
	drop22 := Rule{Protocol: "TCP", Port: "22", CidrBlock: anywhereIPv4, Action: "drop"}
	acceptAll := Rule{Protocol: "ALL", CidrBlock: anywhereIPv4, Action: "accept"}
	tests := []struct {
		name   string
		groups []SecurityGroup
		want   bool
	}{
		{"no groups", nil, false},
		{"no rule matches", []SecurityGroup{{ID: "sg-a", Ingress: []Rule{{Protocol: "UDP", CidrBlock: anywhereIPv4, Action: "ACCEPT"}}}}, false},
		{"drop above accept", []SecurityGroup{{ID: "sg-a", Ingress: []Rule{drop22, acceptAll}}}, false},
		{"accept above drop", []SecurityGroup{{ID: "sg-a", Ingress: []Rule{acceptAll, drop22}}}, true},
		{"first group decides", []SecurityGroup{{ID: "sg-a", Ingress: []Rule{drop22}}, {ID: "sg-b", Ingress: []Rule{acceptAll}}}, false},
		{"empty first group", []SecurityGroup{{ID: "sg-a"}, {ID: "sg-b", Ingress: []Rule{acceptAll}}}, true},
	}
	for _, tt := range tests {
		if got := ProbeAccepts(tt.groups, References{}, 22, false); got != tt.want {
			t.Errorf("%s: ProbeAccepts = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestTemplateAPIs(t *testing.T) {
	_, client := startSim(t, newFakeClock(), Options{})
	tests := []struct {
		action, params string
		want           map[string]string
	}{
		{"DescribeAddressTemplates", `{}`, map[string]string{"TotalCount": "1", "AddressTemplateSet.0.AddressTemplateId": "ipm-anywher1",
			"AddressTemplateSet.0.AddressSet": "[0.0.0.0/0]", "AddressTemplateSet.0.AddressExtraSet.0.Address": "0.0.0.0/0"}},
		{"DescribeAddressTemplates", `{"Filters":[{"Name":"address-ip","Values":["10.0.0.1"]}],"Offset":"0","Limit":"10"}`, map[string]string{"TotalCount": "0"}},
		{"DescribeAddressTemplateGroups", `{"Filters":[{"Name":"address-template-group-id","Values":["ipmg-zzzzzzzz"]}]}`, map[string]string{"TotalCount": "0", "AddressTemplateGroupSet": "[]"}},
		{"DescribeServiceTemplates", `{"Filters":[{"Name":"service-port","Values":["22"]}]}`, map[string]string{"TotalCount": "1",
			"ServiceTemplateSet.0.ServiceTemplateId": "ppm-sshonly1", "ServiceTemplateSet.0.ServiceSet": "[tcp:22]"}},
		{"DescribeServiceTemplates", `{"Filters":[{"Name":"service-template-name","Values":["ssh"]}]}`, map[string]string{"TotalCount": "1"}},
		{"DescribeServiceTemplateGroups", `{}`, map[string]string{"TotalCount": "0"}},
	}
	for _, tt := range tests {
		r := client.mustCall("vpc", tt.action, tt.params, nil)
		for path, want := range tt.want {
			if got := field(t, r.raw, path); got != want {
				t.Errorf("%s %s: %s = %s, want %s", tt.action, tt.params, path, got, want)
			}
		}
	}
	if r := client.call("vpc", "DescribeAddressTemplates", `{"Filters":[{"Name":"address-template-ip","Values":["x"]}]}`); r.code() != codeBadFilter {
		t.Errorf("unknown filter: %q, want %s", r.code(), codeBadFilter)
	}
}

func TestTemplateGroupsListTheirMembers(t *testing.T) {
	sim, client := startSim(t, newFakeClock(), Options{Scenarios: []Scenario{}})
	sc := DefaultScenario()
	sc.ID, sc.PublicIPs = "ins-tmpl0001", []string{"127.0.0.90"}
	sc.Templates = []Template{
		{ID: "ppm-ssh00001", Name: "ssh", Members: []string{"tcp:22"}},
		{ID: "ppmg-admin001", Name: "admin", Members: []string{"ppm-ssh00001"}},
		{ID: "ipm-office01", Name: "office", Members: []string{"203.0.113.0/24"}},
		{ID: "ipmg-office01", Name: "offices", Members: []string{"ipm-office01"}},
	}
	if err := sim.AddScenario(sc); err != nil {
		t.Fatal(err)
	}
	r := client.mustCall("vpc", "DescribeServiceTemplateGroups", `{}`, nil)
	if got := field(t, r.raw, "ServiceTemplateGroupSet.0.ServiceTemplateSet.0.ServiceSet"); got != "[tcp:22]" {
		t.Errorf("service group members: %s", r.raw)
	}
	r = client.mustCall("vpc", "DescribeAddressTemplateGroups", `{}`, nil)
	if got := field(t, r.raw, "AddressTemplateGroupSet.0.AddressTemplateSet.0.AddressTemplateId"); got != "ipm-office01" {
		t.Errorf("address group members: %s", r.raw)
	}
	bad := sc
	bad.ID, bad.PublicIPs = "ins-tmpl0002", []string{"127.0.0.91"}
	bad.Templates = []Template{{ID: "ppm-ssh00002", Members: []string{"ssh"}}}
	if err := sim.AddScenario(bad); err == nil {
		t.Error("a service template group holding an address template was accepted")
	}
}

func TestMetricNamesAreCaseSensitive(t *testing.T) {
	clock := newFakeClock()
	_, client := startSim(t, clock, Options{})
	for name, wantCode := range map[string]string{"CPUUsage": "", "cpuusage": codeInvalidValue, "CpuUsage": codeInvalidValue, "WanOuttraffic": "", "WanOutTraffic": codeInvalidValue} {
		params := fmt.Sprintf(`{"Namespace":"QCE/CVM","MetricName":%q,"Period":60,"StartTime":%q,"Instances":[{"Dimensions":[{"Name":"InstanceId","Value":"ins-linux001"}]}]}`,
			name, clock.Now().Add(-10*time.Minute).Format(time.RFC3339))
		if r := client.call("monitor", "GetMonitorData", params); r.code() != wantCode {
			t.Errorf("%s: error %q, want %q", name, r.code(), wantCode)
		}
	}
}

func TestAccountOfTheInstanceLookedAt(t *testing.T) {
	_, client := startSim(t, newFakeClock(), Options{})
	client.mustCall("cvm", "DescribeInstances", `{"InstanceIds":["ins-credit01"]}`, nil)
	r := client.mustCall("billing", "DescribeAccountBalance", `{}`, nil)
	want := map[string]string{"RealBalance": "-125000", "OweAmount": "125000", "CreditAmount": "1000000",
		"CreditBalance": "875000", "RealCreditBalance": "875000", "IsAllowArrears": "true", "IsCreditLimited": "true"}
	for path, w := range want {
		if got := field(t, r.raw, path); got != w {
			t.Errorf("%s = %s, want %s", path, got, w)
		}
	}
	client.mustCall("cvm", "DescribeInstances", `{"InstanceIds":["ins-linux001"]}`, nil)
	r = client.mustCall("billing", "DescribeAccountBalance", `{}`, nil)
	if got := field(t, r.raw, "RealBalance"); got != "1000000" {
		t.Errorf("the Sim's account: RealBalance %s, want 1000000", got)
	}
}

func TestDescribeInstancesRenewFlagIPv6AndLoginPort(t *testing.T) {
	_, client := startSim(t, newFakeClock(), Options{})
	r := client.mustCall("cvm", "DescribeInstances", `{"InstanceIds":["ins-autorenw","ins-ipv6onl1","ins-port2222","ins-linux001"]}`, nil)
	want := map[string]string{ // in scenario order
		"InstanceSet.0.RenewFlag": "<nil>", "InstanceSet.0.PublicIPv6Addresses": "[]", // ins-linux001: postpaid
		"InstanceSet.1.PublicIpAddresses": "<nil>", "InstanceSet.1.PublicIPv6Addresses": "[2001:db8::1:41]",
		"InstanceSet.2.DefaultLoginPort": "2222",
		"InstanceSet.3.RenewFlag":        "NOTIFY_AND_AUTO_RENEW", "InstanceSet.3.InstanceChargeType": "PREPAID",
	}
	for path, w := range want {
		if got := field(t, r.raw, path); got != w {
			t.Errorf("%s = %s, want %s", path, got, w)
		}
	}
}

func TestSocketActivatedSSHOutput(t *testing.T) {
	_, client := startSim(t, newFakeClock(), Options{})
	inv := runScript(t, client, "ins-sshsock1", "SHELL")
	pollTasks(t, client, inv, `,"HideOutput":false`)
	facts := decodeFacts(t, *pollTasks(t, client, inv, `,"HideOutput":false`).InvocationTaskSet[0].TaskResult.Output)
	want := map[string]string{"login_service": "ssh", "login_service_state": "inactive", "login_socket": "ssh.socket", "listening_ports": "22"}
	for k, v := range want {
		if facts[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, facts[k], v, facts)
		}
	}
}

func TestDialerAnswersIPv6FromLoopback(t *testing.T) {
	sim := New(Options{})
	defer sim.Close()
	d := sim.Dialer()
	var dialed []netip.AddrPort
	real := d.dial
	d.dial = func(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
		dialed = append(dialed, addr)
		return real(ctx, addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp6", "[2001:db8::1:41]:22")
	if err != nil {
		t.Fatal(err)
	}
	defer closeIfAny(conn)
	if conn.RemoteAddr().String() != "[2001:db8::1:41]:22" || len(dialed) != 1 || !dialed[0].Addr().IsLoopback() {
		t.Fatalf("remote %s, dialed %v: want the IPv6 address answered from loopback", conn.RemoteAddr(), dialed)
	}
}

func TestAddressTypes(t *testing.T) {
	_, client := startSim(t, newFakeClock(), Options{})
	for filters, want := range map[string]string{
		`[{"Name":"instance-id","Values":["ins-anycast1"]}]`:                                                          "[AnycastEIP true]",
		`[{"Name":"instance-id","Values":["ins-anycast1"]},{"Name":"address-type","Values":["WanIP","EIP"]}]`:         "[]",
		`[{"Name":"instance-id","Values":["ins-anycast1"]},{"Name":"address-type","Values":["AnycastEIP"]}]`:          "[AnycastEIP true]",
		`[{"Name":"instance-id","Values":["ins-linux001"]},{"Name":"address-type","Values":["WanIP","AntiDDoSEIP"]}]`: "[WanIP false]",
	} {
		var out struct {
			AddressSet []struct {
				AddressType string
				IsBlocked   bool
			}
		}
		client.mustCall("vpc", "DescribeAddresses", `{"Filters":`+filters+`}`, &out)
		var got []string
		for _, a := range out.AddressSet {
			got = append(got, fmt.Sprint(a.AddressType, " ", a.IsBlocked))
		}
		if s := "[" + strings.Join(got, ",") + "]"; s != want {
			t.Errorf("%s: %s, want %s", filters, s, want)
		}
	}
}
