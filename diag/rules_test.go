package diag

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// withIngress replaces the healthy instance's only group's rules.
func withIngress(rules ...SecurityGroupPolicy) func(c *fakeCloud) {
	return func(c *fakeCloud) {
		c.groups["sg-12345678"] = SecurityGroupPolicies{Version: "3", Ingress: rules}
	}
}

func accept22From(cidr string) SecurityGroupPolicy {
	return SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22", CidrBlock: cidr, Action: "ACCEPT"}
}

var dropEverything = SecurityGroupPolicy{Index: 5, Protocol: "ALL", Port: "ALL", CidrBlock: "0.0.0.0/0", Action: "DROP"}

// TestCheckRules pins each check's verdict, and what it says, on the cases
// issue 8 found answered wrongly.
func TestCheckRules(t *testing.T) {
	soon := time.Now().Add(24 * time.Hour)
	vpcDown := &APIError{Service: "vpc", Action: "DescribeAddressTemplateGroups", Kind: KindUnavailable, Code: "InternalError"}
	tests := []struct {
		name   string
		mutate func(c *fakeCloud)
		check  CheckID
		want   Status
		likely CheckID  // "" for none
		says   []string // in title, detail, remediation or evidence
		doc    string   // the finding's DocURL, when it matters
	}{
		// §1.2: a source security group is the private IPs of its instances.
		{"bastion group then drop all warns, naming the group", withIngress(
			SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22", SourceGroupID: "sg-bastion", Action: "ACCEPT"}, dropEverything),
			CheckSGLoginPort, StatusWarn, "", []string{"sg-bastion", "bastion host"}, ""},
		{"drop from a group above accept all is ok", withIngress(
			SecurityGroupPolicy{Index: 0, Protocol: "ALL", Port: "ALL", SourceGroupID: "sg-x", Action: "DROP"},
			SecurityGroupPolicy{Index: 1, Protocol: "TCP", Port: "22", CidrBlock: "0.0.0.0/0", Action: "ACCEPT"}),
			CheckSGLoginPort, StatusOK, "", nil, ""},
		{"office cidr then drop all warns like the bastion", withIngress(accept22From("203.0.113.0/24"), dropEverything),
			CheckSGLoginPort, StatusWarn, "", []string{"203.0.113.0/24"}, ""},
		// §1.3: templates are resolved, through their groups.
		{"address template group of everywhere is resolved", func(c *fakeCloud) {
			withIngress(SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22", AddressTemplate: "ipmg-11111111", Action: "ACCEPT"}, dropEverything)(c)
			c.templateGroups = map[string][]string{"ipmg-11111111": {"ipm-11111111", "ipm-22222222"}}
			c.templates = map[string][]string{"ipm-11111111": {"10.0.0.0/8"}, "ipm-22222222": {"0.0.0.0/0"}}
		}, CheckSGLoginPort, StatusOK, "", nil, ""},
		{"service template group dropping ssh fails", func(c *fakeCloud) {
			withIngress(SecurityGroupPolicy{Index: 0, ServiceTemplate: "ppmg-11111111", CidrBlock: "0.0.0.0/0", Action: "DROP"},
				SecurityGroupPolicy{Index: 1, Protocol: "TCP", Port: "22", CidrBlock: "0.0.0.0/0", Action: "ACCEPT"})(c)
			c.templateGroups = map[string][]string{"ppmg-11111111": {"ppm-11111111"}}
			c.templates = map[string][]string{"ppm-11111111": {"tcp:80,443", "tcp: 22"}}
		}, CheckSGLoginPort, StatusFail, CheckSGLoginPort, []string{"ppmg-11111111"}, ""},
		{"template group with a deleted member cannot tell", func(c *fakeCloud) {
			withIngress(SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22", AddressTemplate: "ipmg-11111111", Action: "ACCEPT"}, dropEverything)(c)
			c.templateGroups = map[string][]string{"ipmg-11111111": {"ipm-11111111", "ipm-deleted"}}
			c.templates = map[string][]string{"ipm-11111111": {"0.0.0.0/0"}}
		}, CheckSGLoginPort, StatusUnknown, "", []string{"ipmg-11111111"}, ""},
		{"failed template lookup is unknown, with the cause", func(c *fakeCloud) {
			withIngress(SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22", AddressTemplate: "ipmg-11111111", Action: "ACCEPT"}, dropEverything)(c)
			c.errs["AddressTemplateGroups"] = vpcDown
		}, CheckSGLoginPort, StatusUnknown, "", []string{"DescribeAddressTemplateGroups"}, ""},
		{"failed template lookup that cannot matter is ignored", func(c *fakeCloud) {
			withIngress(accept22From("0.0.0.0/0"), SecurityGroupPolicy{Index: 1, Protocol: "TCP", Port: "22", AddressTemplate: "ipm-1", Action: "DROP"})(c)
			c.errs["AddressTemplates"] = vpcDown
		}, CheckSGLoginPort, StatusOK, "", nil, ""},
		// §1.8: an unreadable Port cannot tell.
		{"unparseable port is unknown, not fail", withIngress(SecurityGroupPolicy{Index: 0, Protocol: "TCP", Port: "22;80", CidrBlock: "0.0.0.0/0", Action: "ACCEPT"}),
			CheckSGLoginPort, StatusUnknown, "", []string{"22;80"}, ""},
		// §4: binding order decides between groups.
		{"binding order: the dropping group bound first blocks", func(c *fakeCloud) {
			c.inst.SecurityGroupIDs = []string{"sg-lock", "sg-12345678"}
			c.groups["sg-lock"] = SecurityGroupPolicies{Version: "1", Ingress: []SecurityGroupPolicy{dropEverything}}
		}, CheckSGLoginPort, StatusFail, CheckSGLoginPort, []string{"sg-lock"}, ""},
		{"binding order: the dropping group bound second does not", func(c *fakeCloud) {
			c.inst.SecurityGroupIDs = []string{"sg-12345678", "sg-lock"}
			c.groups["sg-lock"] = SecurityGroupPolicies{Version: "1", Ingress: []SecurityGroupPolicy{dropEverything}}
		}, CheckSGLoginPort, StatusOK, "", []string{"sg-12345678 rule #0"}, ""},
		// §1.8: IPv6.
		{"public ipv6 without an ipv6 rule warns", func(c *fakeCloud) { c.inst.PublicIPv6s = []string{"2001:db8::10"} },
			CheckSGLoginPort, StatusWarn, "", []string{"IPv6", "IPv4 and IPv6"}, ""},
		{"public ipv6 with an ipv6 rule is ok and says both families", func(c *fakeCloud) {
			c.inst.PublicIPv6s = []string{"2001:db8::10"}
			g := c.groups["sg-12345678"]
			g.Ingress = append(g.Ingress, SecurityGroupPolicy{Index: 2, Protocol: "TCP", Port: "22", Ipv6CidrBlock: "::/0", Action: "ACCEPT"})
			c.groups["sg-12345678"] = g
		}, CheckSGLoginPort, StatusOK, "", []string{"IPv4 and IPv6"}, ""},
		{"ipv4 only says so", nil, CheckSGLoginPort, StatusOK, "", []string{"IPv4"}, ""},
		{"ipv6-only instance is judged on ipv6", func(c *fakeCloud) {
			c.inst.PublicIPs, c.inst.PublicIPv6s = nil, []string{"2001:db8::10"}
		}, CheckSGLoginPort, StatusFail, CheckSGLoginPort, []string{"IPv6"}, ""},
		// §1.4: an API error in either source is never ok.
		{"addresses failing alone is unknown", func(c *fakeCloud) { c.errs["Addresses"] = vpcDown }, CheckIPBlocked, StatusUnknown, "", nil, ""},
		{"anti-ddos failing alone is unknown", func(c *fakeCloud) { c.errs["BasicDeviceStatus"] = vpcDown }, CheckIPBlocked, StatusUnknown, "", nil, ""},
		{"black hole is found even when the other source fails", func(c *fakeCloud) {
			c.ddos = "1"
			c.errs["Addresses"] = vpcDown
		}, CheckIPBlocked, StatusFail, CheckIPBlocked, nil, ""},
		// §1.5: arrears only when they block login.
		{"negative balance within credit warns, not the likely cause", func(c *fakeCloud) {
			c.balance = AccountBalance{RealBalance: -1234, OweAmount: 1234, CreditAmount: 500000, RealCreditBalance: 498766}
		}, CheckAccountArrears, StatusWarn, "", []string{"within"}, ""},
		{"negative balance without credit fails", func(c *fakeCloud) { c.balance = AccountBalance{RealBalance: -1234} },
			CheckAccountArrears, StatusFail, CheckAccountArrears, nil, ""},
		{"owing beyond credit fails", func(c *fakeCloud) {
			c.balance = AccountBalance{RealBalance: -700000, OweAmount: 700000, CreditAmount: 500000, RealCreditBalance: -200000}
		}, CheckAccountArrears, StatusFail, CheckAccountArrears, nil, ""},
		{"allowed arrears warns", func(c *fakeCloud) { c.balance = AccountBalance{RealBalance: -1234, AllowArrears: true} },
			CheckAccountArrears, StatusWarn, "", nil, ""},
		{"positive balance is ok", nil, CheckAccountArrears, StatusOK, "", []string{"not in arrears"}, ""},
		// §1.8: expiry.
		{"auto-renewed instance expiring soon is ok", func(c *fakeCloud) {
			c.inst.ExpiredTime, c.inst.RenewFlag = &soon, "NOTIFY_AND_AUTO_RENEW"
		}, CheckInstanceExpired, StatusOK, "", []string{"NOTIFY_AND_AUTO_RENEW"}, ""},
		{"manually renewed instance expiring soon warns", func(c *fakeCloud) {
			c.inst.ExpiredTime, c.inst.RenewFlag = &soon, "NOTIFY_AND_MANUAL_RENEW"
		}, CheckInstanceExpired, StatusWarn, "", nil, ""},
		// §1.6: socket activation.
		{"ssh.socket listening with ssh.service inactive is ok", func(c *fakeCloud) {
			c.facts = GuestFacts{OS: "linux", LoginService: "ssh", LoginServiceState: "inactive", LoginSocket: "ssh.socket", ListeningPorts: []int{22}, DiskUsedPercent: 30, InodeUsedPercent: 4}
		}, CheckGuestLoginService, StatusOK, "", []string{"ssh.socket", "first connection"}, ""},
		{"port listening by another process is ok", func(c *fakeCloud) {
			c.facts.LoginServiceState, c.facts.ListeningPorts = "failed", []int{22}
		}, CheckGuestLoginService, StatusOK, "", nil, ""},
		{"ssh.socket on another port fails", func(c *fakeCloud) {
			c.facts.LoginService, c.facts.LoginServiceState, c.facts.LoginSocket, c.facts.ListeningPorts = "ssh", "inactive", "ssh.socket", []int{2222}
		}, CheckGuestLoginService, StatusFail, CheckGuestLoginService, []string{"ssh.socket", "2222"}, ""},
		{"nothing listening and sshd down fails", func(c *fakeCloud) {
			c.facts.LoginServiceState, c.facts.ListeningPorts = "inactive", []int{80}
		}, CheckGuestLoginService, StatusFail, CheckGuestLoginService, []string{"not running"}, ""},
		// §1.7: the RDP-disabled page is "Remote desktop cannot connect", not the Mac page.
		{"rdp disabled links the cannot-connect page", func(c *fakeCloud) {
			c.inst.OSName = "Windows Server 2022"
			c.groups["sg-12345678"] = SecurityGroupPolicies{Ingress: []SecurityGroupPolicy{{Protocol: "ALL", Port: "ALL", CidrBlock: "0.0.0.0/0", Action: "ACCEPT"}}}
			c.facts = GuestFacts{OS: "windows", LoginService: "TermService", LoginServiceState: "running", ListeningPorts: []int{3389}, DiskUsedPercent: 50, InodeUsedPercent: -1, RDPDenied: true}
		}, CheckGuestLoginService, StatusFail, CheckGuestLoginService, []string{"fDenyTSConnections"}, docBase + "213/32404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := healthyFake()
			if tc.mutate != nil {
				tc.mutate(c)
			}
			r := diagnose(t, c, openDialer{})
			f := statusOf(t, r, tc.check)
			if f.Status != tc.want {
				t.Fatalf("%s = %s (%s: %s), want %s", tc.check, f.Status, f.Title, f.Detail, tc.want)
			}
			var likely CheckID
			if r.LikelyCause != nil {
				likely = *r.LikelyCause
			}
			if likely != tc.likely {
				t.Errorf("likely cause %q, want %q", likely, tc.likely)
			}
			text := fmt.Sprint(f.Title, " ", f.Detail, " ", f.Remediation, " ", f.Evidence)
			for _, s := range tc.says {
				if !strings.Contains(text, s) {
					t.Errorf("the finding does not say %q: %s", s, text)
				}
			}
			if tc.doc != "" && f.DocURL != tc.doc {
				t.Errorf("doc %s, want %s", f.DocURL, tc.doc)
			}
		})
	}
}

// TestArrearsNeverShowsAmounts: whatever the balance, no amount reaches the
// finding (the channel is not the bill's audience), and no currency is named.
func TestArrearsNeverShowsAmounts(t *testing.T) {
	for _, bal := range []AccountBalance{
		{RealBalance: 987654},
		{RealBalance: -123456, OweAmount: 123456},
		{RealBalance: -123456, OweAmount: 123456, CreditAmount: 9876543, RealCreditBalance: 9753087},
	} {
		c := healthyFake()
		c.balance = bal
		f := statusOf(t, diagnose(t, c, openDialer{}), CheckAccountArrears)
		text := fmt.Sprint(f.Title, f.Detail, f.Remediation, f.Evidence)
		for _, leak := range []string{"1234", "9876", "9753", "CNY", "USD", "¥"} {
			if strings.Contains(text, leak) {
				t.Errorf("balance %+v: the finding shows %q: %s", bal, leak, text)
			}
		}
	}
}

// everyAPIFake is a healthy instance whose diagnosis reads every Cloud
// method: its OS comes from its image, and its only rule, which decides both
// login and ping, uses an address template group and a service template
// group.
func everyAPIFake() *fakeCloud {
	c := healthyFake()
	c.inst.OSName, c.inst.ImageID = "", "img-12345678"
	withIngress(SecurityGroupPolicy{Index: 0, ServiceTemplate: "ppmg-11111111", AddressTemplate: "ipmg-11111111", Action: "ACCEPT"}, dropEverything)(c)
	c.templateGroups = map[string][]string{"ipmg-11111111": {"ipm-11111111"}, "ppmg-11111111": {"ppm-11111111"}}
	c.templates = map[string][]string{"ipm-11111111": {"0.0.0.0/0"}, "ppm-11111111": {"tcp:22", "icmp"}}
	return c
}

// TestAPIErrorNeverTurnsIntoOK fails each Cloud method in turn: no check that
// depends on it may be ok (design.md B3).
func TestAPIErrorNeverTurnsIntoOK(t *testing.T) {
	sg := []CheckID{CheckSGLoginPort, CheckSGICMP}
	guest := []CheckID{CheckGuestLoginService, CheckGuestDisk}
	dependents := map[string][]CheckID{
		"FindInstances":         CheckIDs,
		"ImagePlatform":         {CheckSGLoginPort, CheckPortReachable, CheckGuestLoginService},
		"AccountBalance":        {CheckAccountArrears},
		"Addresses":             {CheckIPBlocked},
		"BasicDeviceStatus":     {CheckIPBlocked},
		"SecurityGroupPolicies": sg,
		"AddressTemplates":      sg,
		"AddressTemplateGroups": sg,
		"ServiceTemplates":      sg,
		"ServiceTemplateGroups": sg,
		"MetricData":            {CheckLoadCPU, CheckLoadMemory, CheckBandwidthUsage},
		"AgentStatus":           append([]CheckID{CheckGuestAgent}, guest...),
		"RunCommand":            guest,
		"InvocationTasks":       guest,
	}
	cloud := reflect.TypeFor[Cloud]()
	for i := range cloud.NumMethod() {
		if _, ok := dependents[cloud.Method(i).Name]; !ok {
			t.Errorf("Cloud.%s is not covered: add it and the checks that depend on it", cloud.Method(i).Name)
		}
	}
	if r := diagnose(t, everyAPIFake(), openDialer{}); r.Summary.OK != len(CheckIDs) {
		t.Fatalf("the fake is not healthy: %+v", r.Summary)
	}
	for method, checks := range dependents {
		t.Run(method, func(t *testing.T) {
			c := everyAPIFake()
			c.errs[method] = &APIError{Service: "fake", Action: method, Kind: KindUnavailable, Code: "InternalError"}
			d := NewDiagnoser(c, Options{Region: "ap-guangzhou", PortProbe: true, GuestChecks: true, GuestPoll: time.Millisecond, Dialer: openDialer{}})
			r, _ := d.Diagnose(context.Background(), Request{Target: Target{Raw: "ins-abc12345", Kind: TargetInstanceID}})
			for _, id := range checks {
				if f := statusOf(t, r, id); f.Status == StatusOK {
					t.Errorf("%s is ok (%s: %s) although %s failed", id, f.Title, f.Detail, method)
				}
			}
		})
	}
}
