package diag

import (
	"cmp"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCloud is an in-memory Cloud for pipeline rules. Fields left zero act as
// a healthy Linux instance; errs fails calls by method name.
type fakeCloud struct {
	inst    Instance
	balance AccountBalance
	groups  map[string]SecurityGroupPolicies
	metrics map[string][]float64
	agent   Agent
	facts   GuestFacts
	// outputs are the outputs of scripts other than the guest facts, by
	// command name (cvmlogin-login-details, cvmlogin-<repair>); taskStatus,
	// when set, is every task's status; runs are the commands run.
	outputs    map[string]string
	taskStatus string
	runs       []string
	runsMu     sync.Mutex // guest checks run commands concurrently
	ddos       string
	// templates are address and service templates by ID; groups template
	// groups, by ID, listing their members.
	templates      map[string][]string
	templateGroups map[string][]string
	errs           map[string]error
}

func healthyFake() *fakeCloud {
	return &fakeCloud{
		inst: Instance{ID: "ins-abc12345", Name: "web-1", State: "RUNNING", RestrictState: "NORMAL", OSName: "CentOS 7.6 64bit",
			PublicIPs: []string{"203.0.113.10"}, PrivateIPs: []string{"10.0.0.3"}, BandwidthOutMbps: 5, SecurityGroupIDs: []string{"sg-12345678"}},
		balance: AccountBalance{RealBalance: 10000},
		groups: map[string]SecurityGroupPolicies{"sg-12345678": {Version: "3", Ingress: []SecurityGroupPolicy{
			{Index: 0, Protocol: "TCP", Port: "22", CidrBlock: "0.0.0.0/0", Action: "ACCEPT"},
			{Index: 1, Protocol: "ICMP", CidrBlock: "0.0.0.0/0", Action: "ACCEPT"}}}},
		metrics: map[string][]float64{"CPUUsage": {20, 22, 21}, "MemUsage": {40, 41, 40}, "WanOuttraffic": {0.5, 0.4, 0.6}},
		agent:   Agent{Found: true, Status: "Online", Environment: "Linux"},
		facts:   GuestFacts{OS: "linux", LoginService: "sshd", LoginServiceState: "active", ListeningPorts: []int{22}, DiskUsedPercent: 40, InodeUsedPercent: 5},
		ddos:    "2",
		errs:    map[string]error{},
	}
}

func (c *fakeCloud) FindInstances(_ context.Context, _ string, q InstanceQuery) ([]Instance, error) {
	if err := c.errs["FindInstances"]; err != nil {
		return nil, err
	}
	if q.ID != "" && q.ID != c.inst.ID {
		return nil, nil
	}
	return []Instance{c.inst}, nil
}
func (c *fakeCloud) ImagePlatform(context.Context, string, string) (string, error) {
	return "", c.errs["ImagePlatform"]
}
func (c *fakeCloud) AccountBalance(context.Context) (AccountBalance, error) {
	return c.balance, c.errs["AccountBalance"]
}
func (c *fakeCloud) Addresses(_ context.Context, _ string, ips []string) ([]Address, error) {
	return []Address{{IP: ips[0], Type: "WanIP"}}, c.errs["Addresses"]
}
func (c *fakeCloud) SecurityGroupPolicies(_ context.Context, _ string, id string) (SecurityGroupPolicies, error) {
	return c.groups[id], c.errs["SecurityGroupPolicies"]
}
func (c *fakeCloud) AddressTemplates(_ context.Context, _ string, ids []string) ([]AddressTemplate, error) {
	var out []AddressTemplate
	for _, id := range ids {
		if e, ok := c.templates[id]; ok {
			out = append(out, AddressTemplate{ID: id, Addresses: e})
		}
	}
	return out, c.errs["AddressTemplates"]
}
func (c *fakeCloud) ServiceTemplates(_ context.Context, _ string, ids []string) ([]ServiceTemplate, error) {
	var out []ServiceTemplate
	for _, id := range ids {
		if e, ok := c.templates[id]; ok {
			out = append(out, ServiceTemplate{ID: id, Services: e})
		}
	}
	return out, c.errs["ServiceTemplates"]
}
func (c *fakeCloud) AddressTemplateGroups(_ context.Context, _ string, ids []string) ([]TemplateGroup, error) {
	return c.groupsOf(ids), c.errs["AddressTemplateGroups"]
}
func (c *fakeCloud) ServiceTemplateGroups(_ context.Context, _ string, ids []string) ([]TemplateGroup, error) {
	return c.groupsOf(ids), c.errs["ServiceTemplateGroups"]
}
func (c *fakeCloud) groupsOf(ids []string) []TemplateGroup {
	var out []TemplateGroup
	for _, id := range ids {
		if m, ok := c.templateGroups[id]; ok {
			out = append(out, TemplateGroup{ID: id, Members: m})
		}
	}
	return out
}
func (c *fakeCloud) BasicDeviceStatus(_ context.Context, _ string, ips []string) (map[string]string, error) {
	return map[string]string{ips[0]: c.ddos}, c.errs["BasicDeviceStatus"]
}
func (c *fakeCloud) MetricData(_ context.Context, _ string, q MetricQuery) (MetricSeries, error) {
	vals := c.metrics[q.Metric]
	ts := make([]time.Time, len(vals))
	for i := range ts {
		ts[i] = q.End.Add(time.Duration(i-len(vals)) * q.Period)
	}
	return MetricSeries{Metric: q.Metric, Period: q.Period, Values: vals, Timestamps: ts}, c.errs["MetricData"]
}
func (c *fakeCloud) AgentStatus(context.Context, string, string) (Agent, error) {
	return c.agent, c.errs["AgentStatus"]
}
func (c *fakeCloud) RunCommand(_ context.Context, _ string, cmd Command) (string, error) {
	c.runsMu.Lock()
	c.runs = append(c.runs, cmd.Name)
	c.runsMu.Unlock()
	return "inv-" + cmd.Name, c.errs["RunCommand"]
}

// InvocationTasks answers invocations of commands named cvmlogin-*, with
// their output in outputs, else the guest facts.
func (c *fakeCloud) InvocationTasks(_ context.Context, _, invocationID string) ([]InvocationTask, error) {
	name, ok := strings.CutPrefix(invocationID, "inv-")
	if !ok || !strings.HasPrefix(name, "cvmlogin-") {
		return []InvocationTask{}, c.errs["InvocationTasks"]
	}
	out, ok := c.outputs[name]
	if !ok {
		out = c.facts.Format()
	}
	return []InvocationTask{{InstanceID: c.inst.ID, Status: cmp.Or(c.taskStatus, "SUCCESS"), Output: out}}, c.errs["InvocationTasks"]
}

// openDialer answers every probe with a connection.
type openDialer struct{ err error }

func (d openDialer) DialContext(context.Context, string, string) (net.Conn, error) {
	if d.err != nil {
		return nil, d.err
	}
	a, b := net.Pipe()
	_ = b.Close()
	return a, nil
}

func diagnose(t *testing.T, c *fakeCloud, dial Dialer) *Report {
	t.Helper()
	d := NewDiagnoser(c, Options{Region: "ap-guangzhou", PortProbe: true, GuestChecks: true, GuestPoll: time.Millisecond, Dialer: dial})
	target, err := ParseTarget("ins-abc12345")
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Diagnose(context.Background(), Request{Target: target})
	if err != nil {
		t.Fatalf("Diagnose: %v", err)
	}
	if len(r.Findings) != len(CheckIDs) {
		t.Fatalf("%d findings, want %d", len(r.Findings), len(CheckIDs))
	}
	return r
}

func statusOf(t *testing.T, r *Report, id CheckID) Finding {
	t.Helper()
	f, ok := r.Finding(id)
	if !ok {
		t.Fatalf("no finding for %s", id)
	}
	return f
}

func TestDiagnoseHealthy(t *testing.T) {
	r := diagnose(t, healthyFake(), openDialer{})
	for _, f := range r.Findings {
		if f.Status != StatusOK {
			t.Errorf("%s: %s (%s: %s)", f.Check, f.Status, f.Title, f.Detail)
		}
	}
	if r.LikelyCause != nil || r.Summary.OK != len(CheckIDs) {
		t.Fatalf("summary %+v, likely cause %v", r.Summary, r.LikelyCause)
	}
}

func TestDiagnoseRules(t *testing.T) {
	permission := &APIError{Service: "billing", Action: "DescribeAccountBalance", Kind: KindPermission, Code: "UnauthorizedOperation.CamNoAuth"}
	tests := []struct {
		name   string
		mutate func(c *fakeCloud)
		dial   Dialer
		want   map[CheckID]Status
		likely CheckID
	}{
		{"stopped gates load, probe and guest", func(c *fakeCloud) { c.inst.State = "STOPPED" }, nil,
			map[CheckID]Status{CheckInstanceState: StatusFail, CheckLoadCPU: StatusSkipped, CheckLoadMemory: StatusSkipped, CheckPortReachable: StatusSkipped,
				CheckGuestAgent: StatusSkipped, CheckGuestDisk: StatusSkipped, CheckBandwidthUsage: StatusSkipped, CheckSGLoginPort: StatusOK}, CheckInstanceState},
		{"no public ip gates network checks", func(c *fakeCloud) { c.inst.PublicIPs = nil }, nil,
			map[CheckID]Status{CheckPublicIP: StatusFail, CheckBandwidthZero: StatusSkipped, CheckIPBlocked: StatusSkipped, CheckPortReachable: StatusSkipped}, CheckPublicIP},
		{"billing permission missing is unknown, never ok", func(c *fakeCloud) { c.errs["AccountBalance"] = permission }, nil,
			map[CheckID]Status{CheckAccountArrears: StatusUnknown, CheckInstanceState: StatusOK}, ""},
		{"arrears from isolated source beats billing error", func(c *fakeCloud) {
			c.errs["AccountBalance"] = permission
			c.inst.IsolatedSource = "ARREAR"
			c.inst.State = "SHUTDOWN"
		}, nil, map[CheckID]Status{CheckAccountArrears: StatusFail, CheckInstanceState: StatusFail}, CheckAccountArrears},
		{"owed amount fails", func(c *fakeCloud) { c.balance.OweAmount = 1250 }, nil, map[CheckID]Status{CheckAccountArrears: StatusFail}, CheckAccountArrears},
		{"monitor outage degrades only metric checks", func(c *fakeCloud) { c.errs["MetricData"] = &APIError{Kind: KindUnavailable, Code: "InternalError"} }, nil,
			map[CheckID]Status{CheckLoadCPU: StatusUnknown, CheckLoadMemory: StatusUnknown, CheckBandwidthUsage: StatusUnknown, CheckSGLoginPort: StatusOK, CheckGuestDisk: StatusOK}, ""},
		{"no memory points is unknown", func(c *fakeCloud) { c.metrics["MemUsage"] = nil }, nil, map[CheckID]Status{CheckLoadMemory: StatusUnknown}, ""},
		{"sustained cpu fails", func(c *fakeCloud) { c.metrics["CPUUsage"] = []float64{50, 95, 97, 99} }, nil, map[CheckID]Status{CheckLoadCPU: StatusFail}, CheckLoadCPU},
		{"cpu spike warns", func(c *fakeCloud) { c.metrics["CPUUsage"] = []float64{95, 20, 30, 20} }, nil, map[CheckID]Status{CheckLoadCPU: StatusWarn}, ""},
		{"saturated bandwidth fails", func(c *fakeCloud) { c.metrics["WanOuttraffic"] = []float64{4.8, 4.9, 5} }, nil, map[CheckID]Status{CheckBandwidthUsage: StatusFail}, CheckBandwidthUsage},
		{"zero bandwidth gates usage", func(c *fakeCloud) { c.inst.BandwidthOutMbps = 0 }, nil, map[CheckID]Status{CheckBandwidthZero: StatusFail, CheckBandwidthUsage: StatusSkipped}, CheckBandwidthZero},
		{"black hole", func(c *fakeCloud) { c.ddos = "1" }, nil, map[CheckID]Status{CheckIPBlocked: StatusFail}, CheckIPBlocked},
		{"both address APIs failing is unknown", func(c *fakeCloud) {
			c.errs["Addresses"] = permission
			c.errs["BasicDeviceStatus"] = permission
		}, nil, map[CheckID]Status{CheckIPBlocked: StatusUnknown}, ""},
		{"security group drop", func(c *fakeCloud) {
			g := c.groups["sg-12345678"]
			g.Ingress = append([]SecurityGroupPolicy{{Index: -1, Protocol: "ALL", Port: "ALL", CidrBlock: "0.0.0.0/0", Action: "DROP"}}, g.Ingress...)
			c.groups["sg-12345678"] = g
		}, nil, map[CheckID]Status{CheckSGLoginPort: StatusFail, CheckSGICMP: StatusWarn}, CheckSGLoginPort},
		{"vpc outage: security group unknown", func(c *fakeCloud) { c.errs["SecurityGroupPolicies"] = &APIError{Kind: KindThrottled} }, nil,
			map[CheckID]Status{CheckSGLoginPort: StatusUnknown, CheckSGICMP: StatusUnknown}, ""},
		{"refused probe fails", nil, openDialer{err: errors.New("dial tcp 203.0.113.10:22: connect: connection refused")},
			map[CheckID]Status{CheckPortReachable: StatusFail}, CheckPortReachable},
		{"agent offline skips guest checks", func(c *fakeCloud) { c.agent.Status = "Offline" }, nil,
			map[CheckID]Status{CheckGuestAgent: StatusWarn, CheckGuestLoginService: StatusSkipped, CheckGuestDisk: StatusSkipped}, ""},
		{"sshd down", func(c *fakeCloud) { c.facts.LoginServiceState = "inactive"; c.facts.ListeningPorts = nil }, nil,
			map[CheckID]Status{CheckGuestLoginService: StatusFail}, CheckGuestLoginService},
		{"full inodes", func(c *fakeCloud) { c.facts.InodeUsedPercent = 100 }, nil, map[CheckID]Status{CheckGuestDisk: StatusFail}, CheckGuestDisk},
		{"tat failure is unknown", func(c *fakeCloud) {
			c.errs["RunCommand"] = &APIError{Kind: KindInvalid, Code: "ResourceUnavailable.AgentStatusNotOnline"}
		}, nil,
			map[CheckID]Status{CheckGuestLoginService: StatusUnknown, CheckGuestDisk: StatusUnknown}, ""},
		{"isolation", func(c *fakeCloud) { c.inst.RestrictState = "PROTECTIVELY_ISOLATED" }, nil, map[CheckID]Status{CheckInstanceIsolation: StatusFail}, CheckInstanceIsolation},
		{"rebooting warns", func(c *fakeCloud) { c.inst.State = "REBOOTING" }, nil, map[CheckID]Status{CheckInstanceState: StatusWarn, CheckLoadCPU: StatusSkipped}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := healthyFake()
			if tc.mutate != nil {
				tc.mutate(c)
			}
			dial := tc.dial
			if dial == nil {
				dial = openDialer{}
			}
			r := diagnose(t, c, dial)
			for id, want := range tc.want {
				if f := statusOf(t, r, id); f.Status != want {
					t.Errorf("%s = %s (%s: %s), want %s", id, f.Status, f.Title, f.Detail, want)
				}
			}
			var likely CheckID
			if r.LikelyCause != nil {
				likely = *r.LikelyCause
			}
			if likely != tc.likely {
				t.Errorf("likely cause %q, want %q", likely, tc.likely)
			}
			for _, f := range r.Findings {
				if f.Status == StatusSkipped && f.Detail == "" {
					t.Errorf("%s skipped without a reason", f.Check)
				}
				if f.Status == StatusUnknown && f.Detail == "" {
					t.Errorf("%s unknown without a cause", f.Check)
				}
			}
		})
	}
}

func TestDiagnoseLookupFailureCouldNotRun(t *testing.T) {
	c := healthyFake()
	c.errs["FindInstances"] = &APIError{Service: "cvm", Action: "DescribeInstances", Kind: KindAuth, Code: "AuthFailure.SignatureFailure"}
	d := NewDiagnoser(c, Options{Region: "ap-guangzhou"})
	r, err := d.Diagnose(context.Background(), Request{Target: Target{Raw: "ins-abc12345", Kind: TargetInstanceID}})
	if !errors.Is(err, ErrCouldNotRun) || KindOf(err) != KindAuth {
		t.Fatalf("err = %v, want ErrCouldNotRun with auth kind", err)
	}
	if f := statusOf(t, r, CheckInstanceFound); f.Status != StatusUnknown || !strings.Contains(f.Remediation, "secret") {
		t.Fatalf("instance.found = %+v", f)
	}
	if r.Summary.Skipped != len(CheckIDs)-1 {
		t.Fatalf("summary %+v: every other check should be skipped", r.Summary)
	}
}

func TestDiagnoseNotFound(t *testing.T) {
	d := NewDiagnoser(healthyFake(), Options{Region: "ap-guangzhou", Regions: []string{"ap-shanghai"}})
	r, err := d.Diagnose(context.Background(), Request{Target: Target{Raw: "ins-zzzzzzzz", Kind: TargetInstanceID}})
	if err != nil {
		t.Fatal(err)
	}
	f := statusOf(t, r, CheckInstanceFound)
	if f.Status != StatusFail || !strings.Contains(f.Title, "ap-shanghai") || r.Instance != nil {
		t.Fatalf("instance.found = %+v", f)
	}
	if *r.LikelyCause != CheckInstanceFound {
		t.Fatalf("likely cause %v", *r.LikelyCause)
	}
}

func TestOnFindingSeesEveryCheckOnce(t *testing.T) {
	seen := map[CheckID]int{}
	d := NewDiagnoser(healthyFake(), Options{Region: "ap-guangzhou", GuestChecks: true, GuestPoll: time.Millisecond})
	_, err := d.Diagnose(context.Background(), Request{Target: Target{Raw: "ins-abc12345", Kind: TargetInstanceID},
		OnFinding: func(f Finding) { seen[f.Check]++ }})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range CheckIDs {
		if seen[id] != 1 {
			t.Errorf("%s reported %d times", id, seen[id])
		}
	}
}
