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
	if aErr != nil && dErr != nil {
		return unknownFinding("DDoS black hole", errors.Join(aErr, dErr))
	}
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
	var caveat string
	switch {
	case aErr != nil:
		caveat = " (DescribeAddresses failed: " + aErr.Error() + ")"
	case dErr != nil:
		caveat = " (DDoS status unavailable: " + dErr.Error() + ")"
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
		f.Detail = fmt.Sprintf("%s is under attack but not blocked yet%s.", strings.Join(underAttack, ", "), caveat)
		f.Remediation = "Watch the Anti-DDoS console; a black hole may follow."
	default:
		f.Status, f.Title = StatusOK, "Public IP is not blocked"
		f.Detail = "No black hole on " + strings.Join(r.inst.PublicIPs, ", ") + caveat
	}
	return f
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
	t := Traffic{Protocol: "TCP", Port: r.port}
	f, d, ok := r.evaluateGroups(ctx, t, "Security group: login port")
	if !ok {
		return f
	}
	groups := strings.Join(r.inst.SecurityGroupIDs, ", ")
	remedy := fmt.Sprintf("Open TCP %d in %s, or %s / %s.", r.port, firstOf(r.inst.SecurityGroupIDs), press(FixOpenLoginPort, r.port), FixOpenAllPorts.Label(0))
	switch d.Verdict {
	case VerdictAccept:
		f.Status, f.Title = StatusOK, fmt.Sprintf("Security group allows TCP %d", r.port)
		f.Detail = d.Decider.String() + " matches first"
	case VerdictDrop:
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, fmt.Sprintf("Security group blocks TCP %d", r.port)
		f.Detail = d.Decider.String() + " matches first"
		f.Remediation, f.Fixes = remedy, []FixAction{FixOpenLoginPort, FixOpenAllPorts}
	case VerdictNoMatch:
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, fmt.Sprintf("No security group rule allows TCP %d", r.port)
		f.Detail = fmt.Sprintf("No inbound rule in %s matches TCP %d, so it is rejected by default.", orDash(groups), r.port)
		f.Remediation, f.Fixes = remedy, []FixAction{FixOpenLoginPort, FixOpenAllPorts}
	case VerdictPartial:
		f.Status, f.Severity, f.Title = StatusWarn, SeverityMedium, fmt.Sprintf("TCP %d is allowed only from some addresses", r.port)
		f.Detail = "Allowed by " + refList(d.Partial) + "; connect from an address in that range."
		f.Remediation = "If you connect from elsewhere, add your own IP to the rule."
	case VerdictIndeterminate:
		f.Status, f.Severity, f.Title = StatusUnknown, SeverityLow, fmt.Sprintf("Cannot tell whether TCP %d is allowed", r.port)
		f.Detail = "Rules that reference other security groups, address or service templates may decide: " + refList(d.Uncertain)
		f.Remediation = "Check those templates or groups in the console."
	}
	return f
}

func checkSGICMP(ctx context.Context, r *run) Finding {
	f, d, ok := r.evaluateGroups(ctx, Traffic{Protocol: "ICMP"}, "Security group: ping")
	if !ok {
		return f
	}
	if d.Verdict == VerdictAccept {
		f.Status, f.Title, f.Detail = StatusOK, "Security group allows ping", d.Decider.String()+" matches first"
		return f
	}
	f.Status, f.Severity, f.Title = StatusWarn, SeverityInfo, "Ping (ICMP) is not allowed"
	f.Detail = "ICMP is not accepted from everywhere (" + d.Verdict.Describe() + "): ping will fail even when login works."
	f.Remediation = "Only needed if you test with ping; " + FixOpenAllPorts.Label(0) + " also opens ICMP."
	return f
}

// evaluateGroups reads the security groups and evaluates t against them.
// When it cannot, it returns the finding to report and ok false.
func (r *run) evaluateGroups(ctx context.Context, t Traffic, title string) (Finding, Decision, bool) {
	f := Finding{DocURL: loginDoc(r.os), Evidence: map[string]any{"traffic": t.String(), "security_groups": nonNil(r.inst.SecurityGroupIDs)}}
	if len(r.inst.SecurityGroupIDs) == 0 {
		f.Status, f.Severity, f.Title = StatusWarn, SeverityMedium, "Instance has no security group"
		f.Detail = "SecurityGroupIds is empty: traffic is governed by other controls only."
		return f, Decision{}, false
	}
	groups, err := r.policies.get(ctx)
	if err != nil {
		return unknownFinding(title, err), Decision{}, false
	}
	d := EvaluateIngress(groups, t)
	f.Evidence["verdict"] = string(d.Verdict)
	if d.Decider != nil {
		f.Evidence["deciding_rule"] = d.Decider.String()
	}
	versions := map[string]string{}
	for _, g := range groups {
		versions[g.GroupID] = g.Version
	}
	f.Evidence["versions"] = versions
	return f, d, true
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
		f.Remediation = fmt.Sprintf("Start the login service (%s) through VNC, check that it listens on %d, and check the guest firewall.", loginService(r.os), r.port)
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
