package diag

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
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
	ctx, cancel := context.WithTimeout(r.ctx, r.d.opts.GuestTimeout)
	defer cancel()
	cmd := Command{InstanceID: r.inst.ID, Type: "SHELL", Script: LinuxGuestScript, Timeout: r.d.opts.GuestTimeout, Name: "cvmlogin-diagnosis"}
	if r.os == OSWindows {
		cmd.Type, cmd.Script = "POWERSHELL", WindowsGuestScript
	}
	inv, err := r.d.cloud.RunCommand(ctx, r.region, cmd)
	if err != nil {
		return GuestFacts{}, fmt.Errorf("starting the in-guest script: %w", err)
	}
	task, err := r.awaitTask(ctx, inv)
	if err != nil {
		return GuestFacts{}, err
	}
	if task.Status != "SUCCESS" && task.Status != "FAILED" {
		return GuestFacts{}, fmt.Errorf("in-guest script %s ended %s: %s", inv, task.Status, orDash(task.ErrorInfo))
	}
	return ParseGuestFacts(task.Output)
}

// awaitTask polls the invocation until its task is final, backing off.
func (r *run) awaitTask(ctx context.Context, invocationID string) (InvocationTask, error) {
	wait := r.d.opts.GuestPoll
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return InvocationTask{}, fmt.Errorf("waiting for in-guest script %s: %w", invocationID, ctx.Err())
		case <-timer.C:
		}
		tasks, err := r.d.cloud.InvocationTasks(ctx, r.region, invocationID)
		if err != nil {
			return InvocationTask{}, fmt.Errorf("reading in-guest script %s: %w", invocationID, err)
		}
		for _, t := range tasks {
			if t.InstanceID == r.inst.ID && guestTerminal(t.Status) {
				return t, nil
			}
		}
		wait = min(2*wait, 2*time.Second)
	}
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
	fail := func(title, detail, remedy string) Finding {
		f.Status, f.Severity, f.Title, f.Detail, f.Remediation = StatusFail, SeverityCritical, title, detail, remedy
		f.Fixes = []FixAction{FixRestartInstance}
		return f
	}
	switch {
	case g.RDPDenied:
		return fail("Remote Desktop connections are disabled", "fDenyTSConnections is 1.", "Allow remote connections in System Properties → Remote through VNC.")
	case g.Listening(r.port):
		f.Status, f.Title = StatusOK, fmt.Sprintf("TCP %d is listening", r.port)
		f.Detail = listeningDetail(g, svc, r.port)
		return f
	case g.LoginSocket != "":
		return fail(fmt.Sprintf("Nothing listens on %d", r.port),
			fmt.Sprintf("%s is socket-activated by %s, which does not listen on %d (listening: %v).", svc, g.LoginSocket, r.port, g.ListeningPorts),
			fmt.Sprintf("Check the ListenStream of %s (systemctl cat %s), or connect to the port it listens on.", g.LoginSocket, g.LoginSocket))
	case !g.ServiceUp():
		return fail(fmt.Sprintf("%s is not running", svc), fmt.Sprintf("Nothing listens on %d and %s is %q inside the guest.", r.port, svc, g.LoginServiceState),
			fmt.Sprintf("Start it through VNC (%s), or %s.", startCommand(r.os, svc), press(FixRestartInstance, 0)))
	}
	return fail(fmt.Sprintf("%s does not listen on %d", svc, r.port), fmt.Sprintf("%s is running but TCP %d is not in LISTEN state (listening: %v).", svc, r.port, g.ListeningPorts),
		fmt.Sprintf("Check the port %s is configured to use, or connect to the port it listens on.", svc))
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
