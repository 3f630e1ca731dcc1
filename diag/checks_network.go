package diag

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DDoS basic-protection status codes (antiddos:DescribeBasicDeviceStatus).
const (
	ddosBlocked     = "1"
	ddosUnderAttack = "3"
)

func checkIPBlocked(ctx context.Context, r *run) Finding {
	var (
		addrs       []Address
		ddos        map[string]string
		aErr, dErr  error
		wg          sync.WaitGroup
		f           = Finding{DocURL: loginDoc(r.os), Evidence: map[string]any{}}
		blocked     []string
		arrears     []string
		underAttack []string
	)
	wg.Go(func() { addrs, aErr = r.addrs.get(ctx) })
	wg.Go(func() { ddos, dErr = r.ddos.get(ctx) })
	wg.Wait()
	for _, a := range addrs {
		if a.IsBlocked {
			blocked = append(blocked, a.IP)
		}
		if a.IsArrears {
			arrears = append(arrears, a.IP)
		}
	}
	for ip, status := range ddos {
		switch status {
		case ddosBlocked:
			blocked = appendNew(blocked, ip)
		case ddosUnderAttack:
			underAttack = append(underAttack, ip)
		}
	}
	f.Evidence["addresses_checked"] = aErr == nil
	f.Evidence["ddos_status"] = ddos
	f.Evidence["address_types"] = addressTypes(addrs)
	failed := errors.Join(aErr, dErr)
	if failed != nil {
		f.Evidence["error"] = failed.Error()
	}
	switch {
	case len(blocked) > 0:
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, "Public IP is in a DDoS black hole"
		f.Detail = fmt.Sprintf("%s is blocked (black hole): all traffic to it is dropped.", strings.Join(blocked, ", "))
		f.Remediation = "Wait for the automatic unblock time shown in the Anti-DDoS console, or unblock it there; consider Anti-DDoS protection."
	case len(arrears) > 0:
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, "Public IP is isolated for arrears"
		f.Detail = fmt.Sprintf("%s has IsArrears true.", strings.Join(arrears, ", "))
		f.Remediation = "Top up the account to release the IP."
	case len(underAttack) > 0:
		f.Status, f.Severity, f.Title = StatusWarn, SeverityHigh, "Public IP is under DDoS attack"
		f.Detail = fmt.Sprintf("%s is under attack but not blocked yet.", strings.Join(underAttack, ", "))
		f.Remediation = "Watch the Anti-DDoS console; a black hole may follow."
	case failed != nil:
		// Either source alone can tell of a black hole: without both, no ok.
		return unknownFinding("DDoS black hole", failed)
	default:
		f.Status, f.Title = StatusOK, "Public IP is not blocked"
		f.Detail = "No black hole on " + strings.Join(r.inst.PublicIPs, ", ")
	}
	return f
}

// addressTypes lists the address types DescribeAddresses returned.
func addressTypes(addrs []Address) []string {
	types := []string{}
	for _, a := range addrs {
		types = appendNew(types, a.Type)
	}
	return types
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func checkSGLoginPort(ctx context.Context, r *run) Finding {
	const title = "Security group: login port"
	f, rules, ok := r.readGroups(ctx, title)
	if !ok {
		return f
	}
	// The family that decides is the one the instance is reached over: IPv4,
	// unless its only public address is IPv6.
	t := Traffic{Protocol: "TCP", Port: r.port, IPv6: len(r.inst.PublicIPs) == 0 && len(r.inst.PublicIPv6s) > 0}
	d, err := rules.decide(t)
	if err != nil {
		return unknownFinding(title, err)
	}
	recordDecision(f, d, t)
	r.judgeLoginPort(&f, d)
	if !t.IPv6 && len(r.inst.PublicIPv6s) > 0 {
		r.judgeIPv6(&f, rules, Traffic{Protocol: "TCP", Port: r.port, IPv6: true})
	}
	return f
}

// judgeLoginPort sets f's verdict on TCP to the login port from d.
func (r *run) judgeLoginPort(f *Finding, d Decision) {
	groups := strings.Join(r.inst.SecurityGroupIDs, ", ")
	remedy := fmt.Sprintf("Open TCP %d in %s, or %s / %s.", r.port, firstOf(r.inst.SecurityGroupIDs), press(FixOpenLoginPort, r.port), FixOpenAllPorts.Label(0))
	switch d.Verdict {
	case VerdictAccept:
		f.Status, f.Title = StatusOK, fmt.Sprintf("Security group allows TCP %d", r.port)
		f.Detail = d.Decider.String() + " matches first"
	case VerdictDrop:
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, fmt.Sprintf("Security group blocks TCP %d", r.port)
		f.Detail = d.Decider.String() + " matches first"
		f.Remediation, f.Fixes = remedy, loginPortFixes(r.port)
	case VerdictNoMatch:
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, fmt.Sprintf("No security group rule allows TCP %d", r.port)
		f.Detail = fmt.Sprintf("No inbound rule in %s matches TCP %d, so it is rejected by default.", orDash(groups), r.port)
		f.Remediation, f.Fixes = remedy, loginPortFixes(r.port)
	case VerdictPartial:
		sources := partialSources(d.Partial)
		f.Status, f.Severity = StatusWarn, SeverityMedium
		f.Title = fmt.Sprintf("TCP %d is allowed only from %s", r.port, strings.Join(sources, ", "))
		f.Detail = "Allowed by " + refList(d.Partial) + "; the internet at large is not let in."
		if bastions := sourceGroups(d.Partial); len(bastions) > 0 {
			note := fmt.Sprintf("A bastion host (or any instance) in %s can still reach it over the private network.", strings.Join(bastions, ", "))
			f.Detail += " " + note
			f.Evidence["source_groups_note"] = note
		}
		f.Evidence["allowed_sources"] = sources
		f.Remediation = "Connect from one of those sources (e.g. through the bastion host), or add your own IP to the rule."
	case VerdictIndeterminate:
		f.Status, f.Severity, f.Title = StatusUnknown, SeverityLow, fmt.Sprintf("Cannot tell whether TCP %d is allowed", r.port)
		f.Detail = "Rules that cannot be evaluated may decide: " + refList(d.Uncertain)
		f.Remediation = "Check those rules in the console."
	}
}

// judgeIPv6 adds the IPv6 verdict to an IPv4 finding: an instance with a
// public IPv6 address is reached over both, so IPv4 alone is not ok.
func (r *run) judgeIPv6(f *Finding, rules groupRules, t Traffic) {
	f.Evidence["address_family"] = "IPv4 and IPv6"
	f.Evidence["public_ipv6"] = r.inst.PublicIPv6s
	d, err := rules.decide(t)
	if err != nil {
		f.Evidence["ipv6_verdict"] = string(StatusUnknown)
		f.Evidence["ipv6_error"] = err.Error()
	} else {
		f.Evidence["ipv6_verdict"] = string(d.Verdict)
		if d.Decider != nil {
			f.Evidence["ipv6_deciding_rule"] = d.Decider.String()
		}
	}
	if f.Status != StatusOK || (err == nil && d.Verdict == VerdictAccept) {
		return
	}
	f.Status, f.Severity = StatusWarn, SeverityMedium
	f.Title = fmt.Sprintf("TCP %d is allowed over IPv4 but not over IPv6", r.port)
	f.Detail += fmt.Sprintf("; over IPv6 (%s) the verdict is %v", strings.Join(r.inst.PublicIPv6s, ", "), f.Evidence["ipv6_verdict"])
	f.Remediation = "Connect over IPv4, or add an Ipv6CidrBlock rule (e.g. ::/0) for the login port."
}

// partialSources names the sources of partial rules, once each.
func partialSources(refs []RuleRef) []string {
	var sources []string
	for _, ref := range refs {
		sources = appendNew(sources, ruleSource(ref.Rule))
	}
	return sources
}

// sourceGroups lists the security groups that partial rules let in.
func sourceGroups(refs []RuleRef) []string {
	var groups []string
	for _, ref := range refs {
		if ref.Rule.SourceGroupID != "" {
			groups = appendNew(groups, ref.Rule.SourceGroupID)
		}
	}
	return groups
}

func checkSGICMP(ctx context.Context, r *run) Finding {
	const title = "Security group: ping"
	f, rules, ok := r.readGroups(ctx, title)
	if !ok {
		return f
	}
	t := Traffic{Protocol: "ICMP"}
	d, err := rules.decide(t)
	if err != nil {
		return unknownFinding(title, err)
	}
	recordDecision(f, d, t)
	if d.Verdict == VerdictAccept {
		f.Status, f.Title, f.Detail = StatusOK, "Security group allows ping", d.Decider.String()+" matches first"
		return f
	}
	f.Status, f.Severity, f.Title = StatusWarn, SeverityInfo, "Ping (ICMP) is not allowed"
	f.Detail = "ICMP is not accepted from everywhere (" + d.Verdict.Describe() + "): ping will fail even when login works."
	f.Remediation = "Only needed if you test with ping; " + FixOpenAllPorts.Label(0) + " also opens ICMP."
	return f
}

// groupRules are the instance's security groups, in binding order, with the
// templates their rules use.
type groupRules struct {
	groups []SecurityGroupPolicies
	tpl    Templates
	tplErr error // the template lookup failed
}

// decide evaluates t. It fails when the verdict depends on templates whose
// lookup failed: an API error never turns into a verdict.
func (g groupRules) decide(t Traffic) (Decision, error) {
	d := EvaluateIngressWith(g.groups, t, g.tpl)
	if d.Verdict == VerdictIndeterminate && g.tplErr != nil {
		return d, g.tplErr
	}
	return d, nil
}

// readGroups reads the security groups and the templates their rules use, and
// starts the finding. When it cannot, it returns the finding to report and ok
// false.
func (r *run) readGroups(ctx context.Context, title string) (Finding, groupRules, bool) {
	f := Finding{DocURL: loginDoc(r.os), Evidence: map[string]any{"security_groups": nonNil(r.inst.SecurityGroupIDs)}}
	if len(r.inst.SecurityGroupIDs) == 0 {
		f.Status, f.Severity, f.Title = StatusWarn, SeverityMedium, "Instance has no security group"
		f.Detail = "SecurityGroupIds is empty: traffic is governed by other controls only."
		return f, groupRules{}, false
	}
	groups, err := r.policies.get(ctx)
	if err != nil {
		return unknownFinding(title, err), groupRules{}, false
	}
	tpl, tplErr := r.templates.get(ctx)
	versions := map[string]string{}
	for _, g := range groups {
		versions[g.GroupID] = g.Version
	}
	f.Evidence["versions"] = versions
	if tplErr != nil {
		f.Evidence["template_error"] = tplErr.Error()
	}
	return f, groupRules{groups: groups, tpl: tpl, tplErr: tplErr}, true
}

// recordDecision puts d into f's evidence.
func recordDecision(f Finding, d Decision, t Traffic) {
	f.Evidence["traffic"] = t.String()
	f.Evidence["address_family"] = t.Family()
	f.Evidence["verdict"] = string(d.Verdict)
	if d.Decider != nil {
		f.Evidence["deciding_rule"] = d.Decider.String()
	}
}

func refList(refs []RuleRef) string {
	s := make([]string, len(refs))
	for i, ref := range refs {
		s[i] = ref.String()
	}
	return strings.Join(s, "; ")
}

func checkPortReachable(ctx context.Context, r *run) Finding {
	addr := net.JoinHostPort(r.inst.PublicIPs[0], strconv.Itoa(r.port))
	f := Finding{DocURL: loginDoc(r.os), Evidence: map[string]any{"address": addr, "from": "the bot host"}}
	ctx, cancel := context.WithTimeout(ctx, r.d.opts.ProbeTimeout)
	defer cancel()
	start := time.Now()
	conn, err := r.d.opts.Dialer.DialContext(ctx, "tcp", addr)
	f.Evidence["connect_ms"] = time.Since(start).Milliseconds()
	if err == nil {
		_ = conn.Close()
		f.Status, f.Title = StatusOK, fmt.Sprintf("TCP %d answers", r.port)
		f.Detail = "Connected to " + addr + " from the bot host."
		return f
	}
	f.Evidence["error"] = err.Error()
	f.Status, f.Severity = StatusFail, SeverityCritical
	if isRefused(err) {
		f.Title = fmt.Sprintf("TCP %d refuses connections", r.port)
		f.Detail = fmt.Sprintf("%s: connection refused. The packets arrive, but nothing listens on port %d or a guest firewall rejects them.", addr, r.port)
		f.Remediation = fmt.Sprintf("Start the login service, %s, through VNC, check that it listens on %d, and check the guest firewall.", loginService(r.os), r.port)
		f.Fixes = []FixAction{FixRestartInstance}
		return f
	}
	f.Title = fmt.Sprintf("TCP %d does not answer", r.port)
	f.Detail = fmt.Sprintf("%s: no answer within %s. Packets are dropped on the way (security group, blocked IP, guest firewall) or the instance is unresponsive.", addr, r.d.opts.ProbeTimeout)
	f.Remediation = "Look at the security-group, black-hole and load findings above; if they are fine, check the guest firewall through VNC."
	return f
}

func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(strings.ToLower(err.Error()), "connection refused")
}

func loginService(os string) string {
	if os == OSWindows {
		return "Remote Desktop Services (TermService)"
	}
	return "sshd"
}
