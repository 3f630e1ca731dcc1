package diag

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/pause"
)

func checkAgent(ctx context.Context, r *run) Finding {
	a, err := r.agent.get(ctx)
	if err != nil {
		return unknownFinding("TAT agent", err)
	}
	f := Finding{Evidence: map[string]any{"agent_status": a.Status, "environment": a.Environment, "version": a.Version, "last_heartbeat": a.LastHeartbeat}, DocURL: loginDoc(r.os)}
	switch {
	case !a.Found:
		f.Status, f.Severity, f.Title = StatusWarn, SeverityLow, "TAT agent is not installed"
		f.Detail = "The instance has no TencentCloud Automation Tools agent, so in-guest checks are skipped."
		f.Remediation = "Install the TAT agent to let the bot check sshd/RDP and disk space from inside."
	case !strings.EqualFold(a.Status, "Online"):
		f.Status, f.Severity, f.Title = StatusWarn, SeverityMedium, "TAT agent is offline"
		f.Detail = fmt.Sprintf("AgentStatus %s, last heartbeat %s: in-guest checks are skipped. An agent that was online going silent often means the guest OS is hung or its network is down.", orDash(a.Status), orDash(a.LastHeartbeat))
		f.Remediation = "Log in through VNC to check the guest; restarting the instance often helps."
		f.Fixes = []FixAction{FixRestartInstance}
	default:
		f.Status, f.Title, f.Detail = StatusOK, "TAT agent is online", fmt.Sprintf("AgentStatus Online, version %s", orDash(a.Version))
	}
	return f
}

// guestTerminal reports whether a TAT task status is final.
func guestTerminal(status string) bool {
	return !slices.Contains([]string{"PENDING", "DELIVERING", "DELIVER_DELAYED", "RUNNING", "CANCELLING", ""}, status)
}

// runGuestScript runs the read-only script through TAT and parses its facts.
func (r *run) runGuestScript() (GuestFacts, error) {
	return guestFacts(r.ctx, r.d.cloud, r.region, r.os, r.inst.ID, r.d.opts.GuestTimeout, r.d.opts.GuestPoll)
}

// guestFacts runs the read-only guest script of os on instanceID through
// TAT, within timeout, and parses its facts.
func guestFacts(ctx context.Context, guest GuestAPI, region, os, instanceID string, timeout, poll time.Duration) (GuestFacts, error) {
	cmd := Command{InstanceID: instanceID, Type: "SHELL", Script: LinuxGuestScript, Name: "cvmlogin-diagnosis"}
	if os == OSWindows {
		cmd.Type, cmd.Script = "POWERSHELL", WindowsGuestScript
	}
	out, err := runGuestCommand(ctx, guest, region, cmd, timeout, poll)
	if err != nil {
		return GuestFacts{}, err
	}
	return ParseGuestFacts(out)
}

// runLoginDetails runs the read-only login-details script through TAT and
// parses what it reports.
func (r *run) runLoginDetails() (LoginDetails, error) {
	cmd, err := LoginDetailsCommand(r.os, r.inst.ID, r.port, r.loginUser)
	if err != nil {
		return LoginDetails{}, err
	}
	out, err := r.runScript(cmd)
	if err != nil {
		return LoginDetails{}, err
	}
	return ParseLoginDetails(out)
}

// runScript runs a read-only script through TAT and returns its output.
// Starting it may wait for the request budget until the diagnosis's
// deadline; from its start, the script and the polls for its end have
// GuestTimeout.
func (r *run) runScript(cmd Command) (string, error) {
	return runGuestCommand(r.ctx, r.d.cloud, r.region, cmd, r.d.opts.GuestTimeout, r.d.opts.GuestPoll)
}

// runGuestCommand runs a read-only script through TAT and returns its
// output. Starting it may wait for the request budget as long as ctx allows;
// from its start, the script and the polls for its end, from poll on, have
// timeout.
func runGuestCommand(ctx context.Context, guest GuestAPI, region string, cmd Command, timeout, poll time.Duration) (string, error) {
	cmd.Timeout = timeout
	inv, err := guest.RunCommand(ctx, region, cmd)
	if err != nil {
		return "", fmt.Errorf("starting the in-guest script: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	task, err := awaitTask(ctx, guest, region, cmd.InstanceID, inv, poll)
	if err != nil {
		return "", err
	}
	if task.Status != "SUCCESS" && task.Status != "FAILED" {
		return "", fmt.Errorf("in-guest script %s ended %s: %s", inv, task.Status, orDash(task.ErrorInfo))
	}
	return task.Output, nil
}

// awaitTask polls invocationID until its task on instanceID is final,
// backing off from poll to 2s.
func awaitTask(ctx context.Context, guest GuestAPI, region, instanceID, invocationID string, poll time.Duration) (InvocationTask, error) {
	wait := poll
	for {
		if err := pause.For(ctx, wait); err != nil {
			return InvocationTask{}, fmt.Errorf("waiting for in-guest script %s: %w", invocationID, err)
		}
		tasks, err := guest.InvocationTasks(ctx, region, invocationID)
		if err != nil {
			return InvocationTask{}, fmt.Errorf("reading in-guest script %s: %w", invocationID, err)
		}
		for _, t := range tasks {
			if t.InstanceID == instanceID && guestTerminal(t.Status) {
				return t, nil
			}
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// checkLoginConfig judges the settings inside the guest that decide whether
// a login reaching the service is accepted: the worst problem the
// login-details script shows decides (critical or high: fail; medium:
// warn), every problem is listed, and their repairs are offered.
func checkLoginConfig(ctx context.Context, r *run) Finding {
	d, err := r.details.get(ctx)
	if err != nil {
		return unknownFinding("Login settings", err)
	}
	problems := d.Problems(r.port, r.d.opts.Now())
	f := Finding{Evidence: loginDetailsEvidence(d, problems), DocURL: r.serviceDoc()}
	var blocking []GuestProblem
	for _, p := range problems {
		if p.Severity == SeverityCritical || p.Severity == SeverityHigh || p.Severity == SeverityMedium {
			blocking = append(blocking, p)
		}
	}
	if len(blocking) == 0 {
		f.Status, f.Title, f.Detail = StatusOK, "Login settings inside the guest allow the login", loginSettingsSummary(d, r.os)
		if len(problems) > 0 {
			f.Detail += " Note: " + problemList(problems)
		}
		return f
	}
	return blockedLogin(f, blocking, problems)
}

// blockedLogin is the finding of login settings with blocking problems
// (worst first): the worst decides status, severity and title; the detail
// tells every problem; the remediation and fixes are the blocking ones'.
func blockedLogin(f Finding, blocking, problems []GuestProblem) Finding {
	worst := blocking[0]
	f.Status, f.Severity, f.Title = StatusFail, worst.Severity, worst.Title
	if worst.Severity == SeverityMedium {
		f.Status = StatusWarn
	}
	if len(blocking) > 1 {
		f.Title = fmt.Sprintf("%s (and %s)", worst.Title, plural(len(blocking)-1, "more problem"))
	}
	f.Detail = sentence(worst.Detail)
	if len(problems) > 1 {
		f.Detail += " Also: " + problemList(problems[1:])
	}
	var remedies []string
	for _, p := range blocking {
		remedies = append(remedies, p.Remediation)
		if p.Fix != "" && !slices.Contains(f.Fixes, p.Fix) {
			f.Fixes = append(f.Fixes, p.Fix)
		}
	}
	f.Remediation = strings.Join(remedies, " ")
	return f
}

// problemList renders problems as "Title: detail." sentences.
func problemList(problems []GuestProblem) string {
	items := make([]string, len(problems))
	for i, p := range problems {
		items[i] = p.Title + ": " + sentence(p.Detail)
	}
	return strings.Join(items, " ")
}

// sentence ends s with exactly one full stop.
func sentence(s string) string { return strings.TrimSuffix(s, ".") + "." }

// loginSettingsSummary says what was checked when nothing is wrong.
func loginSettingsSummary(d LoginDetails, os string) string {
	if os == OSWindows {
		return fmt.Sprintf("Remote Desktop is allowed on port %d; guest firewall %s.", d.RDPPort, orDash(d.GuestFirewall))
	}
	return fmt.Sprintf("sshd ports %s, pubkey %s, password %s; login user %s; guest firewall %s.",
		orDash(joinPorts(d.SSHDPorts)), orDash(d.PubkeyAuth), orDash(d.PasswordAuth), orDash(d.LoginUser), orDash(d.GuestFirewall))
}

// loginDetailsEvidence is what the finding shows of the details.
func loginDetailsEvidence(d LoginDetails, problems []GuestProblem) map[string]any {
	titles := make([]string, len(problems))
	for i, p := range problems {
		titles[i] = p.Title
	}
	return map[string]any{"login_user": d.LoginUser, "guest_firewall": d.GuestFirewall, "firewall_allows_port": d.FirewallAllowsPort,
		"sshd_ports": d.SSHDPorts, "key_files": d.KeyFiles, "rdp_denied": d.RDPDenied, "problems": titles}
}

// checkLoginService judges the login service by what matters for logging in:
// whether something listens on the login port. A socket-activated sshd
// (ssh.socket on Ubuntu 22.10 and later) is inactive until the first
// connection, and fine; the service's state only explains a port that is not
// listening.
func checkLoginService(ctx context.Context, r *run) Finding {
	g, err := r.guest.get(ctx)
	if err != nil {
		return unknownFinding("Login service", err)
	}
	svc := orDash(g.LoginService)
	f := Finding{Evidence: map[string]any{"service": svc, "state": g.LoginServiceState, "login_socket": g.LoginSocket,
		"listening_ports": g.ListeningPorts}, DocURL: r.serviceDoc()}
	fail := func(title, detail, remedy string, fixes ...FixAction) Finding {
		f.Status, f.Severity, f.Title, f.Detail, f.Remediation = StatusFail, SeverityCritical, title, detail, remedy
		f.Fixes = fixes
		return f
	}
	switch {
	case g.RDPDenied:
		return fail("Remote Desktop connections are disabled", "fDenyTSConnections is 1.",
			"Press Enable Remote Desktop, or allow remote connections in System Properties → Remote through VNC.", FixEnableRDP)
	case g.Listening(r.port):
		f.Status, f.Title = StatusOK, fmt.Sprintf("TCP %d is listening", r.port)
		f.Detail = listeningDetail(g, svc, r.port)
		return f
	case g.LoginSocket != "":
		return fail(fmt.Sprintf("Nothing listens on %d", r.port),
			fmt.Sprintf("%s is socket-activated by %s, which does not listen on %d (listening: %v).", svc, g.LoginSocket, r.port, g.ListeningPorts),
			fmt.Sprintf("Check the ListenStream of %s (systemctl cat %s), or connect to the port it listens on.", g.LoginSocket, g.LoginSocket), FixRestartInstance)
	case !g.ServiceUp():
		return fail(fmt.Sprintf("%s is not running", svc), fmt.Sprintf("Nothing listens on %d and %s is %q inside the guest.", r.port, svc, g.LoginServiceState),
			fmt.Sprintf("Start it through VNC (%s), or %s.", startCommand(r.os, svc), press(FixRestartLoginService, 0)), FixRestartLoginService, FixRestartInstance)
	}
	return fail(fmt.Sprintf("%s does not listen on %d", svc, r.port), fmt.Sprintf("%s is running but TCP %d is not in LISTEN state (listening: %v).", svc, r.port, g.ListeningPorts),
		fmt.Sprintf("Check the port %s is configured to use, or connect to the port it listens on; restarting %s applies a changed configuration.", svc, svc),
		FixRestartLoginService, FixRestartInstance)
}

// listeningDetail explains who answers on a listening login port.
func listeningDetail(g GuestFacts, svc string, port int) string {
	switch {
	case g.ServiceUp():
		return fmt.Sprintf("%s %s; listening on %v", svc, g.LoginServiceState, g.ListeningPorts)
	case g.LoginSocket != "":
		return fmt.Sprintf("%s listens on %d for %s, which starts on the first connection (its state %q is normal).", g.LoginSocket, port, svc, g.LoginServiceState)
	}
	return fmt.Sprintf("TCP %d is in LISTEN state (%s is %q: another process or unit answers).", port, svc, g.LoginServiceState)
}

func (r *run) serviceDoc() string {
	if r.os == OSWindows {
		return DocRDPService
	}
	return DocLinuxLogin
}

func startCommand(os, svc string) string {
	if os == OSWindows {
		return "Start-Service TermService"
	}
	return "systemctl start " + svc
}

func checkDisk(ctx context.Context, r *run) Finding {
	g, err := r.guest.get(ctx)
	if err != nil {
		return unknownFinding("Disk space", err)
	}
	limit := r.d.opts.Thresholds.DiskPercent
	f := Finding{Evidence: map[string]any{"disk_used_percent": g.DiskUsedPercent, "inode_used_percent": g.InodeUsedPercent, "limit_percent": limit}, DocURL: loginDoc(r.os)}
	switch {
	case g.DiskUsedPercent < 0:
		f.Status, f.Severity, f.Title = StatusUnknown, SeverityLow, "Disk space: no data"
		f.Detail = "The in-guest script did not report the root filesystem usage."
	case g.DiskUsedPercent >= limit || g.InodeUsedPercent >= limit:
		f.Status, f.Severity, f.Title = StatusFail, SeverityHigh, fmt.Sprintf("Root filesystem is full (%.0f%% space, %s inodes)", g.DiskUsedPercent, percentOrDash(g.InodeUsedPercent))
		f.Detail = fmt.Sprintf("Disk %.0f%%, inodes %s (limit %.0f%%): sshd cannot write its logs or session files and logins fail.", g.DiskUsedPercent, percentOrDash(g.InodeUsedPercent), limit)
		f.Remediation = "Free space through VNC (old logs: `journalctl --vacuum-size=100M`, `du -xh / | sort -h | tail`), or expand the disk."
	default:
		f.Status, f.Title = StatusOK, fmt.Sprintf("Root filesystem at %.0f%%", g.DiskUsedPercent)
		f.Detail = fmt.Sprintf("Disk %.0f%%, inodes %s.", g.DiskUsedPercent, percentOrDash(g.InodeUsedPercent))
	}
	return f
}

func percentOrDash(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", v)
}
