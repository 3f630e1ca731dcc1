package diag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/defaults"
)

// fixCloud is fakeCloud with a working FixAPI. Security-group changes are
// guarded by the group's version; a reboot or start finishes after opPolls
// instance polls (never when opPolls is 0), FAILED with opFails if that is
// set. fail queues results by method name: each call takes the next one
// first, and a non-nil error is returned before any effect. It is not safe
// for concurrent use; the Fixer calls it from one goroutine.
type fixCloud struct {
	*fakeCloud
	fail    map[string][]error
	calls   map[string]int
	opPolls int
	opFails string
	// onFind runs at each FindInstances call before it answers, onRead at
	// each SecurityGroupPolicies call after it has read; both get the call's
	// number (1 for the first).
	onFind, onRead func(n int)
	// movedTo, when set, is the instance a public-IP lookup finds: the
	// address moved there.
	movedTo string

	pollsLeft int
	requests  int
}

func newFixCloud() *fixCloud {
	return &fixCloud{fakeCloud: healthyFake(), fail: map[string][]error{}, calls: map[string]int{}, opPolls: 1}
}

func (c *fixCloud) take(method string) error {
	c.calls[method]++
	q := c.fail[method]
	if len(q) == 0 {
		return nil
	}
	c.fail[method] = q[1:]
	return q[0]
}

func (c *fixCloud) mutations() int {
	return c.calls["CreateIngressPolicies"] + c.calls["DeleteIngressPolicies"] + c.calls["RebootInstance"] + c.calls["StartInstance"]
}

func (c *fixCloud) newRequestID() string {
	c.requests++
	return "req-" + strconv.Itoa(c.requests)
}

func (c *fixCloud) FindInstances(ctx context.Context, region string, q InstanceQuery) ([]Instance, error) {
	if err := c.take("FindInstances"); err != nil {
		return nil, err
	}
	if c.onFind != nil {
		c.onFind(c.calls["FindInstances"])
	}
	c.settle()
	if q.PublicIP != "" && c.movedTo != "" {
		return []Instance{{ID: c.movedTo, PublicIPs: []string{q.PublicIP}}}, nil
	}
	return c.fakeCloud.FindInstances(ctx, region, q)
}

func (c *fixCloud) SecurityGroupPolicies(_ context.Context, _ string, id string) (SecurityGroupPolicies, error) {
	if err := c.take("SecurityGroupPolicies"); err != nil {
		return SecurityGroupPolicies{}, err
	}
	g, ok := c.groups[id]
	if !ok {
		return SecurityGroupPolicies{}, &APIError{Service: "vpc", Action: "DescribeSecurityGroupPolicies", Kind: KindNotFound}
	}
	g.Ingress = slices.Clone(g.Ingress)
	if c.onRead != nil {
		c.onRead(c.calls["SecurityGroupPolicies"])
	}
	return g, nil
}

// edit changes a group's ingress as a concurrent editor would: the rules
// are renumbered and the version moves on.
func (c *fixCloud) edit(id string, change func([]SecurityGroupPolicy) []SecurityGroupPolicy) {
	g := c.groups[id]
	g.Ingress = change(slices.Clone(g.Ingress))
	for i := range g.Ingress {
		g.Ingress[i].Index = i
	}
	v, _ := strconv.Atoi(g.Version)
	g.Version = strconv.Itoa(v + 1)
	c.groups[id] = g
}

// guard answers a version-guarded change: the queued failure, if any, else
// a conflict when version is stale.
func (c *fixCloud) guard(method, id, version string) error {
	if err := c.take(method); err != nil {
		return err
	}
	g, ok := c.groups[id]
	switch {
	case !ok:
		return &APIError{Service: "vpc", Kind: KindNotFound}
	case version != g.Version:
		return &APIError{Service: "vpc", Kind: KindConflict, Code: "UnsupportedOperation.VersionMismatch", RequestID: c.newRequestID()}
	}
	return nil
}

func (c *fixCloud) CreateIngressPolicies(_ context.Context, _, id, version string, rules []SecurityGroupPolicy) (string, error) {
	if err := c.guard("CreateIngressPolicies", id, version); err != nil {
		return "", err
	}
	c.edit(id, func(ingress []SecurityGroupPolicy) []SecurityGroupPolicy {
		return append(slices.Clone(rules), ingress...)
	})
	return c.newRequestID(), nil
}

func (c *fixCloud) DeleteIngressPolicies(_ context.Context, _, id, version string, indexes []int) (string, error) {
	if err := c.guard("DeleteIngressPolicies", id, version); err != nil {
		return "", err
	}
	c.edit(id, func(ingress []SecurityGroupPolicy) []SecurityGroupPolicy {
		return slices.DeleteFunc(ingress, func(p SecurityGroupPolicy) bool { return slices.Contains(indexes, p.Index) })
	})
	return c.newRequestID(), nil
}

func (c *fixCloud) RebootInstance(context.Context, string, string) (string, error) {
	return c.operate("RebootInstance", "RebootInstances", "RUNNING", "REBOOTING")
}

func (c *fixCloud) StartInstance(context.Context, string, string) (string, error) {
	return c.operate("StartInstance", "StartInstances", "STOPPED", "STARTING")
}

func (c *fixCloud) operate(method, operation, from, transition string) (string, error) {
	if err := c.take(method); err != nil {
		return "", err
	}
	if c.inst.State != from {
		return "", &APIError{Service: "cvm", Action: operation, Kind: KindInvalid, Code: "UnsupportedOperation.InstanceState"}
	}
	id := c.newRequestID()
	c.inst.State, c.inst.LatestOperation, c.inst.LatestOperationState, c.inst.LatestOperationRequestID = transition, operation, "OPERATING", id
	c.pollsLeft = c.opPolls
	return id, nil
}

// settle moves a running operation on by one poll.
func (c *fixCloud) settle() {
	if c.inst.LatestOperationState != "OPERATING" || c.opPolls == 0 {
		return
	}
	if c.pollsLeft--; c.pollsLeft > 0 {
		return
	}
	if c.opFails != "" {
		c.inst.State, c.inst.LatestOperationState, c.inst.LatestOperationErrorMsg = "STOPPED", "FAILED", c.opFails
		return
	}
	c.inst.State, c.inst.LatestOperationState = "RUNNING", "SUCCESS"
}

var _ FixAPI = (*fixCloud)(nil)

const sg = "sg-12345678"

// summaryOf is the diagnosed instance of healthyFake.
func summaryOf(c *fixCloud) InstanceSummary {
	return InstanceSummary{ID: c.inst.ID, State: c.inst.State, OS: OSLinux, LoginPort: 22, LoginUser: "root", SecurityGroups: slices.Clone(c.inst.SecurityGroupIDs)}
}

func mustPlan(t *testing.T, c *fixCloud, id string, action FixAction, undoOf string) FixPlan {
	t.Helper()
	p, err := PlanFix(id, action, summaryOf(c), "ap-guangzhou", undoOf)
	if err != nil {
		t.Fatalf("PlanFix: %v", err)
	}
	return p
}

func newTestFixer(c *fixCloud, opts FixerOptions) *Fixer {
	opts.PollInterval = defaults.Duration(opts.PollInterval, time.Millisecond)
	opts.WatchTimeout = defaults.Duration(opts.WatchTimeout, 5*time.Second)
	return NewFixer(c, c, opts)
}

// withDrop puts a DROP ALL rule at the top of sg, above its TCP 22 and ICMP
// rules, as in the simulator's ins-sgdrop01.
func withDrop(c *fixCloud) {
	c.edit(sg, func(in []SecurityGroupPolicy) []SecurityGroupPolicy {
		return append([]SecurityGroupPolicy{{Protocol: "ALL", Port: "ALL", CidrBlock: "0.0.0.0/0", Action: "DROP", Description: "lock down"}}, in...)
	})
}

func descriptions(g SecurityGroupPolicies) []string {
	var out []string
	for _, p := range g.Ingress {
		out = append(out, fmt.Sprintf("%d %s %s %s", p.Index, p.Protocol, p.Port, p.Description))
	}
	return out
}

func TestPlanFix(t *testing.T) {
	inst := InstanceSummary{ID: "ins-abc12345", Name: "web-1", OS: OSLinux, LoginPort: 22, SecurityGroups: []string{"sg-12345678", "sg-87654321"}}
	customPort := inst
	customPort.LoginPort = 2222
	windows := inst
	windows.LoginPort, windows.OS = 3389, OSWindows
	noGroup := inst
	noGroup.SecurityGroups = nil
	noPort := inst
	noPort.LoginPort = 0
	linux := InstanceSummary{ID: "ins-abc12345", Name: "web-1", OS: OSLinux, LoginPort: 22, LoginUser: "ubuntu", SecurityGroups: []string{"sg-12345678"}}
	winRDP := InstanceSummary{ID: "ins-abc12345", Name: "win-1", OS: OSWindows, LoginPort: 3389, SecurityGroups: []string{"sg-12345678"}}
	noUser := linux
	noUser.LoginUser = ""
	badUser := linux
	badUser.LoginUser = "root;reboot"
	tests := []struct {
		name     string
		id       string
		action   FixAction
		inst     InstanceSummary
		undoOf   string
		describe string
		rules    int
		err      string
	}{
		{"open all", "fix1", FixOpenAllPorts, inst, "", "Add 7 inbound rules at the top of security group sg-12345678 of ins-abc12345 (web-1) in ap-guangzhou: TCP 20, 21, 22, 80, 443, 3389 and ICMP from 0.0.0.0/0, described cvmlogin:fix1.", 7, ""},
		{"open all with a custom login port", "fix13", FixOpenAllPorts, customPort, "", "Add 8 inbound rules at the top of security group sg-12345678 of ins-abc12345 (web-1) in ap-guangzhou: TCP 20, 21, 22, 80, 443, 3389, 2222 and ICMP from 0.0.0.0/0, described cvmlogin:fix13.", 8, ""},
		{"open login port", "fix2", FixOpenLoginPort, inst, "", "Add 1 inbound rule at the top of security group sg-12345678 of ins-abc12345 (web-1) in ap-guangzhou: TCP 22 from 0.0.0.0/0, described cvmlogin:fix2.", 1, ""},
		{"open rdp", "fix3", FixOpenLoginPort, windows, "", "Add 1 inbound rule at the top of security group sg-12345678 of ins-abc12345 (web-1) in ap-guangzhou: TCP 3389 from 0.0.0.0/0, described cvmlogin:fix3.", 1, ""},
		{"undo", "fix4", FixUndoOpenPorts, inst, "fix1", "Delete the inbound rules described cvmlogin:fix1 from security group sg-12345678 of ins-abc12345 (web-1) in ap-guangzhou.", 0, ""},
		{"restart", "fix5", FixRestartInstance, noGroup, "", "Reboot ins-abc12345 (web-1) in ap-guangzhou (soft shutdown first, hard if that fails); unsaved work in memory is lost.", 0, ""},
		{"start", "fix6", FixStartInstance, noGroup, "", "Start ins-abc12345 (web-1) in ap-guangzhou.", 0, ""},
		{"open without a group", "fix7", FixOpenAllPorts, noGroup, "", "", 0, "no security group"},
		{"undo without a group", "fix8", FixUndoOpenPorts, noGroup, "fix1", "", 0, "no security group"},
		{"undo of nothing", "fix9", FixUndoOpenPorts, inst, "", "", 0, "not a fix ID"},
		{"unknown action", "fix10", "open_everything", inst, "", "", 0, "unknown fix action"},
		{"id that would break the description", "fix 11", FixOpenAllPorts, inst, "", "", 0, "fix ID"},
		{"no login port", "fix12", FixOpenLoginPort, noPort, "", "", 0, "not a port number"},
		// The guest repairs.
		{"restart sshd", "fixg1", FixRestartLoginService, linux, "",
			"Run in the guest of ins-abc12345 (web-1) in ap-guangzhou: restart sshd (ssh.socket where SSH is socket-activated); refused if `sshd -t` rejects the configuration, since sshd would not come back.", 0, ""},
		{"restart TermService", "fixg1", FixRestartLoginService, winRDP, "",
			"Run in the guest of ins-abc12345 (win-1) in ap-guangzhou: restart Remote Desktop Services (TermService) and the services that depend on it; open Remote Desktop sessions are disconnected.", 0, ""},
		{"open the guest firewall", "fixg1", FixOpenGuestFirewall, linux, "",
			"Run in the guest of ins-abc12345 (web-1) in ap-guangzhou: allow inbound TCP 22 in the guest firewall: firewalld (runtime and permanent), else ufw, else iptables at the top of INPUT (until the next reboot); ufw and iptables rules are commented cvmlogin:fixg1.", 0, ""},
		{"open Windows Firewall", "fixg1", FixOpenGuestFirewall, winRDP, "",
			"Run in the guest of ins-abc12345 (win-1) in ap-guangzhou: add the Windows Firewall rule cvmlogin:fixg1 allowing inbound TCP 3389 from anywhere.", 0, ""},
		{"fix key modes", "fixg1", FixFixAuthorizedKeys, linux, "",
			"Run in the guest of ins-abc12345 (web-1) in ap-guangzhou: make ~ubuntu/.ssh mode 700 and ~ubuntu/.ssh/authorized_keys mode 600, both owned by ubuntu, and remove group and other write permission from ubuntu's home; no key is read or changed.", 0, ""},
		{"enable rdp", "fixg1", FixEnableRDP, winRDP, "",
			"Run in the guest of ins-abc12345 (win-1) in ap-guangzhou: set fDenyTSConnections to 0 (allow Remote Desktop connections) and enable the Remote Desktop firewall rules.", 0, ""},
		{"key modes on Windows", "fixg1", FixFixAuthorizedKeys, winRDP, "", "", 0, "does not apply to windows"},
		{"rdp on Linux", "fixg1", FixEnableRDP, linux, "", "", 0, "does not apply to linux"},
		{"key modes without a login user", "fixg1", FixFixAuthorizedKeys, noUser, "", "", 0, "login user is unknown"},
		{"a login user that is not a name", "fixg1", FixRestartLoginService, badUser, "", "", 0, "not a login user name"},
		{"undo planned from the report", "fixg1", FixUndoGuestFirewall, linux, "", "", 0, "PlanUndoGuestFirewall"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PlanFix(tc.id, tc.action, tc.inst, "ap-guangzhou", tc.undoOf)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Describe(); got != tc.describe {
				t.Errorf("Describe:\n got %s\nwant %s", got, tc.describe)
			}
			if len(p.Rules) != tc.rules {
				t.Errorf("%d rules, want %d", len(p.Rules), tc.rules)
			}
			for _, r := range p.Rules {
				if r.CidrBlock != "0.0.0.0/0" || r.Action != "ACCEPT" || r.Description != "cvmlogin:"+tc.id || r.Index != 0 {
					t.Errorf("rule %+v: want ACCEPT from 0.0.0.0/0 described cvmlogin:%s at index 0", r, tc.id)
				}
			}
		})
	}
}

func TestExecuteRejectsTamperedPlans(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(p *FixPlan)
	}{
		{"wider port", func(p *FixPlan) { p.Rules[0].Port = "1-65535" }},
		{"extra rule", func(p *FixPlan) { p.Rules = append(p.Rules, p.Rules[0]) }},
		{"other description", func(p *FixPlan) { p.Rules[0].Description = "ssh" }},
		{"bad instance", func(p *FixPlan) { p.InstanceID = "i-123" }},
		{"no region", func(p *FixPlan) { p.Region = "" }},
		{"no group", func(p *FixPlan) { p.GroupID = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFixCloud()
			p := mustPlan(t, c, "fix1", FixOpenAllPorts, "")
			tc.tamper(&p)
			out, err := newTestFixer(c, FixerOptions{}).Execute(context.Background(), p)
			if err == nil || out.Result != "" || !strings.HasPrefix(out.Summary, "Not applied") {
				t.Fatalf("Execute = %+v, %v; want an error, no result", out, err)
			}
			if n := c.mutations(); n != 0 {
				t.Fatalf("%d mutating calls, want 0", n)
			}
		})
	}
}

func TestAlreadyOpen(t *testing.T) {
	ssh := SecurityGroupPolicy{Protocol: "TCP", Port: "22", CidrBlock: "0.0.0.0/0", Action: "ACCEPT"}
	icmp := SecurityGroupPolicy{Protocol: "ICMP", CidrBlock: "0.0.0.0/0", Action: "ACCEPT"}
	tests := []struct {
		name  string
		rules []SecurityGroupPolicy
		want  SecurityGroupPolicy
		open  bool
	}{
		{"same rule", []SecurityGroupPolicy{rule(0, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, ssh, true},
		{"any case", []SecurityGroupPolicy{rule(0, "tcp", "22", "0.0.0.0/0", "accept")}, ssh, true},
		{"below an unrelated rule", []SecurityGroupPolicy{rule(0, "TCP", "80", "0.0.0.0/0", "DROP"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, ssh, true},
		{"below a partial drop", []SecurityGroupPolicy{rule(0, "TCP", "22", "198.51.100.0/24", "DROP"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, ssh, true},
		{"shadowed by drop all", []SecurityGroupPolicy{rule(0, "ALL", "ALL", "0.0.0.0/0", "DROP"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, ssh, false},
		{"other port", []SecurityGroupPolicy{rule(0, "TCP", "2222", "0.0.0.0/0", "ACCEPT")}, ssh, false},
		{"range is not the same rule", []SecurityGroupPolicy{rule(0, "TCP", "20-25", "0.0.0.0/0", "ACCEPT")}, ssh, false},
		{"narrower source", []SecurityGroupPolicy{rule(0, "TCP", "22", "10.0.0.0/8", "ACCEPT")}, ssh, false},
		{"drop rule", []SecurityGroupPolicy{rule(0, "TCP", "22", "0.0.0.0/0", "DROP")}, ssh, false},
		{"no rules", nil, ssh, false},
		{"icmp with port ALL", []SecurityGroupPolicy{rule(0, "ICMP", "ALL", "0.0.0.0/0", "ACCEPT")}, icmp, true},
		{"icmp shadowed", []SecurityGroupPolicy{rule(0, "ALL", "ALL", "0.0.0.0/0", "DROP"), rule(1, "ICMP", "", "0.0.0.0/0", "ACCEPT")}, icmp, false},
		{"icmp is not tcp", []SecurityGroupPolicy{rule(0, "ICMP", "", "0.0.0.0/0", "ACCEPT")}, ssh, false},
		{"after a drop from an address template", []SecurityGroupPolicy{{Protocol: "TCP", Port: "22", AddressTemplate: "ipm-1", Action: "DROP"}, rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, ssh, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := alreadyOpen(group(sg, tc.rules...), tc.want); got != tc.open {
				t.Fatalf("alreadyOpen = %v, want %v", got, tc.open)
			}
		})
	}
}

func TestRuleList(t *testing.T) {
	tests := []struct {
		rules []SecurityGroupPolicy
		want  string
	}{
		{[]SecurityGroupPolicy{rule(0, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, "TCP 22 from 0.0.0.0/0"},
		{[]SecurityGroupPolicy{rule(0, "ICMP", "ALL", "0.0.0.0/0", "ACCEPT"), rule(1, "TCP", "22", "0.0.0.0/0", "ACCEPT"), rule(2, "UDP", "53", "0.0.0.0/0", "ACCEPT")},
			"TCP 22, ICMP and UDP 53 from 0.0.0.0/0"},
		{[]SecurityGroupPolicy{rule(0, "TCP", "22", "10.0.0.0/8", "ACCEPT"), rule(1, "tcp", "80", "0.0.0.0/0", "ACCEPT")}, "TCP 22 from 10.0.0.0/8; TCP 80 from 0.0.0.0/0"},
	}
	for _, tc := range tests {
		if got := ruleList(tc.rules); got != tc.want {
			t.Errorf("ruleList = %q, want %q", got, tc.want)
		}
	}
}

func TestExecuteOpenAllAboveDrop(t *testing.T) {
	c := newFixCloud()
	withDrop(c)
	f := newTestFixer(c, FixerOptions{})
	p := mustPlan(t, c, "fix1", FixOpenAllPorts, "")
	out, err := f.Execute(context.Background(), p)
	if err != nil || out.Result != FixSucceeded {
		t.Fatalf("Execute = %+v, %v", out, err)
	}
	want := []string{"0 TCP 20 cvmlogin:fix1", "1 TCP 21 cvmlogin:fix1", "2 TCP 22 cvmlogin:fix1", "3 TCP 80 cvmlogin:fix1", "4 TCP 443 cvmlogin:fix1",
		"5 TCP 3389 cvmlogin:fix1", "6 ICMP  cvmlogin:fix1", "7 ALL ALL lock down", "8 TCP 22 ", "9 ICMP  "}
	if got := descriptions(c.groups[sg]); !slices.Equal(got, want) {
		t.Fatalf("rules after the fix:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(out.Added) != 7 || out.Added[6].Index != 6 || !slices.Equal(out.RequestIDs, []string{"req-1"}) || out.FinalState != "RUNNING" {
		t.Fatalf("outcome %+v", out)
	}

	again, err := f.Execute(context.Background(), p)
	if err != nil || again.Result != FixNotApplicable || !strings.Contains(again.Summary, "rules already present") {
		t.Fatalf("second Execute = %+v, %v; want not_applicable", again, err)
	}
	if n := c.calls["CreateIngressPolicies"]; n != 1 {
		t.Fatalf("%d creates, want 1", n)
	}
}

func TestExecuteOpenAddsOnlyMissingRules(t *testing.T) {
	c := newFixCloud() // TCP 22 and ICMP are open at the top already
	out, err := newTestFixer(c, FixerOptions{}).Execute(context.Background(), mustPlan(t, c, "fix1", FixOpenAllPorts, ""))
	if err != nil || out.Result != FixSucceeded {
		t.Fatalf("Execute = %+v, %v", out, err)
	}
	wantSummary := "Added 5 inbound rules at the top of sg-12345678: TCP 20, 21, 80, 443, 3389 from 0.0.0.0/0 (already open: TCP 22 and ICMP from 0.0.0.0/0)."
	if out.Summary != wantSummary || len(out.Added) != 5 {
		t.Fatalf("outcome %+v\nwant summary %s", out, wantSummary)
	}
}

func TestExecuteOpenConflicts(t *testing.T) {
	conflict := &APIError{Service: "vpc", Action: "CreateSecurityGroupPolicies", Kind: KindConflict, Code: "UnsupportedOperation.VersionMismatch", RequestID: "req-conflict"}
	t.Run("retried after reading again", func(t *testing.T) {
		c := newFixCloud()
		withDrop(c)
		c.fail["CreateIngressPolicies"] = []error{conflict}
		out, err := newTestFixer(c, FixerOptions{}).Execute(context.Background(), mustPlan(t, c, "fix1", FixOpenAllPorts, ""))
		if err != nil || out.Result != FixSucceeded || len(out.Added) != 7 {
			t.Fatalf("Execute = %+v, %v", out, err)
		}
		if c.calls["CreateIngressPolicies"] != 2 || c.calls["SecurityGroupPolicies"] != 2 {
			t.Fatalf("calls %v: want 2 reads and 2 creates", c.calls)
		}
		if !slices.Equal(out.RequestIDs, []string{"req-conflict", "req-1"}) {
			t.Fatalf("request IDs %v", out.RequestIDs)
		}
	})
	t.Run("a concurrent edit is seen", func(t *testing.T) {
		c := newFixCloud()
		withDrop(c)
		c.onRead = func(n int) {
			if n == 1 { // someone opens TCP 22 at the top between our read and our create
				c.edit(sg, func(in []SecurityGroupPolicy) []SecurityGroupPolicy {
					return append([]SecurityGroupPolicy{rule(0, "TCP", "22", "0.0.0.0/0", "ACCEPT")}, in...)
				})
			}
		}
		out, err := newTestFixer(c, FixerOptions{}).Execute(context.Background(), mustPlan(t, c, "fix1", FixOpenAllPorts, ""))
		if err != nil || out.Result != FixSucceeded || len(out.Added) != 6 || c.calls["CreateIngressPolicies"] != 2 {
			t.Fatalf("Execute = %+v, %v (calls %v); want 6 rules added on the second try", out, err, c.calls)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		c := newFixCloud()
		withDrop(c)
		c.fail["CreateIngressPolicies"] = []error{conflict, conflict, conflict}
		out, err := newTestFixer(c, FixerOptions{MaxConflictRetries: 2}).Execute(context.Background(), mustPlan(t, c, "fix1", FixOpenAllPorts, ""))
		if KindOf(err) != KindConflict || out.Result != "" || !strings.HasPrefix(out.Summary, "Not applied") {
			t.Fatalf("Execute = %+v, %v; want a conflict error", out, err)
		}
		if n := c.calls["CreateIngressPolicies"]; n != 3 {
			t.Fatalf("%d creates, want 3", n)
		}
	})
}

func TestExecuteUndoDeletesOnlyItsRules(t *testing.T) {
	c := newFixCloud() // index 0 is a pre-existing ACCEPT TCP 22 from 0.0.0.0/0
	f := newTestFixer(c, FixerOptions{})
	withDrop(c)
	for _, id := range []string{"fixb", "fixa"} {
		if out, err := f.Execute(context.Background(), mustPlan(t, c, id, FixOpenAllPorts, "")); err != nil || out.Result != FixSucceeded {
			t.Fatalf("opening %s: %+v, %v", id, out, err)
		}
		withDrop(c) // so the next open adds all 7 again
	}
	before := descriptions(c.groups[sg])
	out, err := f.Execute(context.Background(), mustPlan(t, c, "undo1", FixUndoOpenPorts, "fixa"))
	if err != nil || out.Result != FixSucceeded || len(out.Deleted) != 7 {
		t.Fatalf("Execute = %+v, %v", out, err)
	}
	var kept []string
	for _, d := range before {
		if !strings.HasSuffix(d, "cvmlogin:fixa") {
			_, rest, _ := strings.Cut(d, " ")
			kept = append(kept, rest)
		}
	}
	var got []string
	for _, d := range descriptions(c.groups[sg]) {
		_, rest, _ := strings.Cut(d, " ")
		got = append(got, rest)
	}
	if !slices.Equal(got, kept) {
		t.Fatalf("rules after undo:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(kept, "\n"))
	}
	for _, d := range out.Deleted {
		if d.Description != "cvmlogin:fixa" {
			t.Fatalf("deleted %+v", d)
		}
	}

	again, err := f.Execute(context.Background(), mustPlan(t, c, "undo2", FixUndoOpenPorts, "fixa"))
	if err != nil || again.Result != FixNotApplicable || !strings.Contains(again.Summary, "nothing to undo") {
		t.Fatalf("second undo = %+v, %v", again, err)
	}
}

func TestUndoOutlivesTheInstance(t *testing.T) {
	c := newFixCloud()
	f := newTestFixer(c, FixerOptions{})
	withDrop(c)
	if out, err := f.Execute(context.Background(), mustPlan(t, c, "fix1", FixOpenLoginPort, "")); err != nil || out.Result != FixSucceeded {
		t.Fatalf("opening: %+v, %v", out, err)
	}
	undo := mustPlan(t, c, "fix2", FixUndoOpenPorts, "fix1")
	c.inst.ID = "ins-other001" // terminated; its rules stay in the (maybe shared) group
	out, err := f.Execute(context.Background(), undo)
	if err != nil || out.Result != FixSucceeded || len(out.Deleted) != 1 || out.Deleted[0].Port != "22" {
		t.Fatalf("undo = %+v, %v", out, err)
	}
}

func TestExecuteNotApplicable(t *testing.T) {
	tests := []struct {
		name    string
		action  FixAction
		setup   func(c *fixCloud)
		summary string
	}{
		{"instance gone", FixRestartInstance, func(c *fixCloud) { c.inst.ID = "ins-other001" }, "the instance no longer exists"},
		{"instance gone before opening", FixOpenLoginPort, func(c *fixCloud) { c.errs["FindInstances"] = &APIError{Kind: KindNotFound} }, "the instance no longer exists"},
		{"start a running instance", FixStartInstance, nil, "already running"},
		{"restart a stopped instance", FixRestartInstance, func(c *fixCloud) { c.inst.State = "STOPPED" }, "is STOPPED; only a RUNNING instance can be rebooted"},
		{"start a rebooting instance", FixStartInstance, func(c *fixCloud) { c.inst.State = "REBOOTING" }, "is REBOOTING; only a STOPPED instance can be started"},
		{"login port already open", FixOpenLoginPort, nil, "rules already present in sg-12345678: TCP 22 from 0.0.0.0/0"},
		{"group detached", FixOpenAllPorts, func(c *fixCloud) { c.inst.SecurityGroupIDs = []string{"sg-99999999"} }, "sg-12345678 is no longer attached to ins-abc12345"},
		{"group deleted", FixUndoOpenPorts, func(c *fixCloud) { delete(c.groups, sg) }, "sg-12345678 no longer exists"},
		{"nothing to undo", FixUndoOpenPorts, nil, "nothing to undo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFixCloud()
			p := mustPlan(t, c, "fix2", tc.action, "fix1")
			if tc.setup != nil {
				tc.setup(c)
			}
			out, err := newTestFixer(c, FixerOptions{}).Execute(context.Background(), p)
			if err != nil || out.Result != FixNotApplicable || !strings.Contains(out.Summary, tc.summary) {
				t.Fatalf("Execute = %+v, %v; want not_applicable %q", out, err, tc.summary)
			}
			if n := c.mutations(); n != 0 {
				t.Fatalf("%d mutating calls, want 0", n)
			}
		})
	}
}

func TestExecuteInstanceOperations(t *testing.T) {
	tests := []struct {
		name    string
		action  FixAction
		state   string
		method  string
		opFails string
		result  FixStatus
		summary string
	}{
		{"restart", FixRestartInstance, "RUNNING", "RebootInstance", "", FixSucceeded, "The reboot of ins-abc12345 succeeded: RUNNING after"},
		{"start", FixStartInstance, "STOPPED", "StartInstance", "", FixSucceeded, "The start of ins-abc12345 succeeded: RUNNING after"},
		{"restart fails", FixRestartInstance, "RUNNING", "RebootInstance", "the guest did not shut down", FixFailed, ": the guest did not shut down."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFixCloud()
			c.inst.State, c.opPolls, c.opFails = tc.state, 3, tc.opFails
			out, err := newTestFixer(c, FixerOptions{}).Execute(context.Background(), mustPlan(t, c, "fix1", tc.action, ""))
			if err != nil || out.Result != tc.result || !strings.Contains(out.Summary, tc.summary) {
				t.Fatalf("Execute = %+v, %v; want %s %q", out, err, tc.result, tc.summary)
			}
			if c.calls[tc.method] != 1 || c.calls["FindInstances"] != 1+3 || !slices.Equal(out.RequestIDs, []string{"req-1"}) {
				t.Fatalf("calls %v, request IDs %v: want one %s, then 3 polls", c.calls, out.RequestIDs, tc.method)
			}
			if tc.result == FixSucceeded && out.FinalState != "RUNNING" {
				t.Fatalf("final state %q", out.FinalState)
			}
		})
	}
}

func TestRebootNotRetriedWhenUnavailable(t *testing.T) {
	c := newFixCloud()
	c.fail["RebootInstance"] = []error{&APIError{Service: "cvm", Action: "RebootInstances", Kind: KindUnavailable, Code: "InternalError"}}
	out, err := newTestFixer(c, FixerOptions{}).Execute(context.Background(), mustPlan(t, c, "fix1", FixRestartInstance, ""))
	if KindOf(err) != KindUnavailable || out.Result != "" || !strings.HasPrefix(out.Summary, "Could not tell whether restart_instance") {
		t.Fatalf("Execute = %+v, %v", out, err)
	}
	if c.calls["RebootInstance"] != 1 || c.calls["FindInstances"] != 1 {
		t.Fatalf("calls %v: want one reboot and no watch", c.calls)
	}
}

func TestWatchSurvivesAFailedPoll(t *testing.T) {
	c := newFixCloud()
	c.opPolls = 2
	c.fail["FindInstances"] = []error{nil, &APIError{Kind: KindThrottled}}
	out, err := newTestFixer(c, FixerOptions{}).Execute(context.Background(), mustPlan(t, c, "fix1", FixRestartInstance, ""))
	if err != nil || out.Result != FixSucceeded {
		t.Fatalf("Execute = %+v, %v", out, err)
	}
}

func TestWatchTimesOut(t *testing.T) {
	c := newFixCloud()
	c.opPolls = 0 // never finishes
	out, err := newTestFixer(c, FixerOptions{WatchTimeout: 30 * time.Millisecond}).Execute(context.Background(), mustPlan(t, c, "fix1", FixRestartInstance, ""))
	if err != nil || out.Result != FixFailed || !strings.Contains(out.Summary, "did not finish within 30ms; check the console") {
		t.Fatalf("Execute = %+v, %v", out, err)
	}
	if out.FinalState != "REBOOTING" {
		t.Fatalf("final state %q, want REBOOTING", out.FinalState)
	}
}

func TestWatchHonoursCancel(t *testing.T) {
	c := newFixCloud()
	c.opPolls = 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.onFind = func(n int) {
		if n == 2 { // the first poll of the watch
			cancel()
		}
	}
	start := time.Now()
	out, err := newTestFixer(c, FixerOptions{WatchTimeout: time.Minute}).Execute(ctx, mustPlan(t, c, "fix1", FixRestartInstance, ""))
	if !errors.Is(err, context.Canceled) || out.Result != "" || !strings.Contains(out.Summary, "was requested (request req-1)") {
		t.Fatalf("Execute = %+v, %v; want context.Canceled", out, err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("Execute returned %v after the cancel", waited)
	}
}

func TestOperationFinished(t *testing.T) {
	tests := []struct {
		name string
		inst Instance
		want bool
	}{
		{"success", Instance{LatestOperation: "RebootInstances", LatestOperationState: "SUCCESS", LatestOperationRequestID: "req-1"}, true},
		{"failed", Instance{LatestOperation: "RebootInstances", LatestOperationState: "FAILED", LatestOperationRequestID: "req-1"}, true},
		{"no request ID reported", Instance{LatestOperation: "RebootInstances", LatestOperationState: "SUCCESS"}, true},
		{"still operating", Instance{LatestOperation: "RebootInstances", LatestOperationState: "OPERATING", LatestOperationRequestID: "req-1"}, false},
		{"an earlier reboot", Instance{LatestOperation: "RebootInstances", LatestOperationState: "SUCCESS", LatestOperationRequestID: "req-0"}, false},
		{"another operation", Instance{LatestOperation: "StopInstances", LatestOperationState: "SUCCESS", LatestOperationRequestID: "req-1"}, false},
	}
	for _, tc := range tests {
		if got := operationFinished(tc.inst, "RebootInstances", "req-1"); got != tc.want {
			t.Errorf("%s: operationFinished = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestBlockedLoginPortOffersOnlyFixesThatOpenIt: whatever the login port,
// every fix a blocked login port offers opens it (issue 8 §1.1: open all
// ports used to leave a custom port such as 2222 closed).
func TestBlockedLoginPortOffersOnlyFixesThatOpenIt(t *testing.T) {
	for _, port := range []int{22, 3389, 2222} {
		t.Run(strconv.Itoa(port), func(t *testing.T) {
			c := newFixCloud()
			withDrop(c)
			r, err := NewDiagnoser(c, Options{Region: "ap-guangzhou"}).Diagnose(context.Background(),
				Request{Target: Target{Raw: c.inst.ID, Kind: TargetInstanceID}, Port: port})
			if err != nil {
				t.Fatal(err)
			}
			f, _ := r.Finding(CheckSGLoginPort)
			if f.Status != StatusFail || len(f.Fixes) == 0 {
				t.Fatalf("finding %+v: want a failure with fixes", f)
			}
			for _, fix := range f.Fixes {
				p, err := PlanReportFix("fix1", fix, r, "")
				if err != nil {
					t.Fatal(err)
				}
				opened := slices.ContainsFunc(p.Rules, func(r SecurityGroupPolicy) bool {
					return r.Protocol == "TCP" && r.Port == strconv.Itoa(port) && r.CidrBlock == "0.0.0.0/0" && r.Action == "ACCEPT"
				})
				if !opened {
					t.Errorf("%s is offered but its plan does not open TCP %d: %s", fix, port, p.Describe())
				}
			}
		})
	}
}

// TestExecuteRefusesWhenTheAddressMoved: a plan made for the instance found
// by a public IP changes nothing once the address belongs to another one.
func TestExecuteRefusesWhenTheAddressMoved(t *testing.T) {
	for _, action := range []FixAction{FixRestartInstance, FixOpenAllPorts} {
		t.Run(string(action), func(t *testing.T) {
			c := newFixCloud()
			withDrop(c)
			p := mustPlan(t, c, "fix1", action, "")
			p.PublicIP = "203.0.113.10"
			c.movedTo = "ins-other123"
			out, err := newTestFixer(c, FixerOptions{}).Execute(context.Background(), p)
			if err != nil || out.Result != FixNotApplicable || !strings.Contains(out.Summary, "203.0.113.10 now belongs to ins-other123, not to ins-abc12345") {
				t.Fatalf("Execute = %+v, %v", out, err)
			}
			if c.mutations() != 0 {
				t.Fatalf("%d mutating calls", c.mutations())
			}
		})
	}
}

// TestReconcile: what an interrupted fix did is read from the cloud alone,
// without a change.
func TestReconcile(t *testing.T) {
	tests := []struct {
		name    string
		action  FixAction
		undoOf  string
		noted   string                  // the request ID the interrupted execution noted
		before  func(*fixCloud, *Fixer) // what the interrupted execution did
		result  FixStatus
		summary string
	}{
		{"ports opened", FixOpenAllPorts, "", "", func(c *fixCloud, f *Fixer) {
			_, _ = f.Execute(context.Background(), mustPlan(t, c, "fix1", FixOpenAllPorts, ""))
		}, FixSucceeded, "Added 7 inbound rules at the top of sg-12345678"},
		{"died before opening", FixOpenAllPorts, "", "", func(*fixCloud, *Fixer) {}, FixFailed, "Not applied: cvmlogin stopped before adding the rules"},
		{"undo done", FixUndoOpenPorts, "fix0", "", func(c *fixCloud, f *Fixer) {}, FixSucceeded, "No inbound rule described cvmlogin:fix0 is left"},
		{"undo not done", FixUndoOpenPorts, "fix0", "", func(c *fixCloud, f *Fixer) {
			_, _ = f.Execute(context.Background(), mustPlan(t, c, "fix0", FixOpenAllPorts, ""))
		}, FixFailed, "Not deleted"},
		{"reboot in flight", FixRestartInstance, "", "", func(c *fixCloud, _ *Fixer) {
			_, _ = c.RebootInstance(context.Background(), "ap-guangzhou", c.inst.ID)
		}, FixSucceeded, "The reboot of ins-abc12345 succeeded: RUNNING."},
		{"noted reboot in flight", FixRestartInstance, "", "req-1", func(c *fixCloud, _ *Fixer) {
			_, _ = c.RebootInstance(context.Background(), "ap-guangzhou", c.inst.ID)
		}, FixSucceeded, "The reboot of ins-abc12345 succeeded: RUNNING."},
		{"another reboot than the noted one", FixRestartInstance, "", "req-9", func(c *fixCloud, _ *Fixer) {
			_, _ = c.RebootInstance(context.Background(), "ap-guangzhou", c.inst.ID)
		}, FixFailed, "its outcome cannot be read: the instance's latest operation is now RebootInstances (request req-1)"},
		{"died before rebooting", FixRestartInstance, "", "", func(*fixCloud, *Fixer) {}, FixFailed, "Not applied: cvmlogin stopped before the reboot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFixCloud()
			withDrop(c)
			c.opPolls = 2
			f := newTestFixer(c, FixerOptions{})
			tc.before(c, f)
			done := c.mutations()
			out, err := f.Reconcile(context.Background(), mustPlan(t, c, "fix1", tc.action, tc.undoOf), tc.noted)
			if err != nil || out.Result != tc.result || !strings.Contains(out.Summary, tc.summary) {
				t.Fatalf("Reconcile = %+v, %v; want %s %q", out, err, tc.result, tc.summary)
			}
			if c.mutations() != done {
				t.Fatalf("Reconcile made %d mutating calls", c.mutations()-done)
			}
		})
	}
}

// TestExecuteNotesEachChange: under WithChangeNote, Execute tells the request
// ID of a change as soon as the cloud accepted it.
func TestExecuteNotesEachChange(t *testing.T) {
	c := newFixCloud()
	var noted []string
	ctx := WithChangeNote(context.Background(), func(id string) { noted = append(noted, id) })
	out, err := newTestFixer(c, FixerOptions{}).Execute(ctx, mustPlan(t, c, "fix1", FixRestartInstance, ""))
	if err != nil || !slices.Equal(noted, out.RequestIDs) || len(noted) != 1 {
		t.Fatalf("noted %v, outcome %+v, %v", noted, out, err)
	}
}
