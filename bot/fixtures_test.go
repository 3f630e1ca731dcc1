package bot

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// assertGolden compares got with testdata/<test name><ext>, or rewrites the
// file when the test runs with -update.
func assertGolden(tb testing.TB, got []byte, ext string) {
	tb.Helper()
	path := filepath.Join("testdata", strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name())+ext)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatalf("updating golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("reading golden file (run go test ./bot -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("output differs from %s (run go test ./bot -update to accept it):\n%s", path, firstDifference(string(want), string(got)))
	}
}

func firstDifference(want, got string) string {
	wantLines, gotLines := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wantLines), len(gotLines)) {
		w, g := lineAt(wantLines, i), lineAt(gotLines, i)
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return "(no line differs)"
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<end of file>"
}

// okTitles are the titles of passing findings in the fixtures.
var okTitles = map[diag.CheckID]string{
	diag.CheckInstanceFound:     "Instance found",
	diag.CheckAccountArrears:    "Account is not in arrears",
	diag.CheckInstanceIsolation: "Instance is not isolated",
	diag.CheckInstanceExpired:   "Instance has not expired",
	diag.CheckInstanceState:     "Instance is running",
	diag.CheckPublicIP:          "Instance has a public IP",
	diag.CheckBandwidthZero:     "Public bandwidth is above 0 Mbps",
	diag.CheckIPBlocked:         "Public IP is not black-holed",
	diag.CheckSGLoginPort:       "Security groups accept TCP 22",
	diag.CheckPortReachable:     "TCP 22 is reachable",
	diag.CheckBandwidthUsage:    "Outbound bandwidth is not saturated",
	diag.CheckLoadCPU:           "CPU is not saturated",
	diag.CheckLoadMemory:        "Memory is not saturated",
	diag.CheckGuestAgent:        "TAT agent is online",
	diag.CheckGuestLoginService: "sshd is running and listening on 22",
	diag.CheckGuestLoginConfig:  "Login settings inside the guest allow the login",
	diag.CheckGuestDisk:         "Root filesystem has space and inodes",
	diag.CheckSGICMP:            "Ping is allowed",
}

// healthyLinux returns a report of a healthy Linux instance: every check ok.
func healthyLinux() *diag.Report {
	r := &diag.Report{
		Target: "ins-abc12345",
		Region: "ap-guangzhou",
		Instance: &diag.InstanceSummary{
			ID: "ins-abc12345", Name: "web-1", OS: "linux", OSName: "CentOS 7.6 64bit", State: "RUNNING",
			PublicIPs: []string{"1.2.3.4"}, PrivateIPs: []string{"10.0.0.3"}, LoginPort: 22,
			SecurityGroups: []string{"sg-12345678"}, BandwidthOutMbps: 5,
		},
		StartedAt:  time.Date(2026, 11, 28, 4, 18, 31, 0, time.UTC),
		DurationMS: 412,
		APICalls: []diag.APICall{
			{Service: "cvm", Action: "DescribeInstances", Region: "ap-guangzhou", DurationMS: 83, Attempts: 1, RequestID: "6f1c9a2e-0d3b-4b8e-9d6f-1a2b3c4d5e6f"},
			{Service: "vpc", Action: "DescribeSecurityGroupPolicies", Region: "ap-guangzhou", DurationMS: 61, Attempts: 1, RequestID: "0b7e44c1-2f6a-4e0d-8c3b-9f8e7d6c5b4a"},
			{Service: "monitor", Action: "GetMonitorData", Region: "ap-guangzhou", DurationMS: 140, Attempts: 2, RequestID: "a3d5f7b9-1c2e-4f6a-8b0d-2e4f6a8c0b1d"},
		},
	}
	for _, id := range diag.CheckIDs {
		r.Findings = append(r.Findings, diag.Finding{Check: id, Status: diag.StatusOK, Severity: diag.SeverityInfo, Title: okTitles[id], DurationMS: 40})
	}
	setEvidence(r, diag.CheckLoadCPU, map[string]any{"values": []float64{3, 4, 2, 5, 3, 4, 6, 3, 2, 4, 3, 5}, "window": "last 60 min, 300 s period"})
	setEvidence(r, diag.CheckLoadMemory, map[string]any{"values": []any{41.0, 41.5, 42.0, 41.8, 42.2, 41.9}})
	setEvidence(r, diag.CheckBandwidthUsage, map[string]any{"values": []any{0.2, 0.1, 0.3, 0.2, 0.4, 0.2}})
	return finish(r)
}

// withFinding replaces the finding of f.Check in r and returns r, finished
// again.
func withFinding(r *diag.Report, f diag.Finding) *diag.Report {
	for i := range r.Findings {
		if r.Findings[i].Check == f.Check {
			r.Findings[i] = f
		}
	}
	return finish(r)
}

func setEvidence(r *diag.Report, id diag.CheckID, evidence map[string]any) {
	for i := range r.Findings {
		if r.Findings[i].Check == id {
			r.Findings[i].Evidence = evidence
		}
	}
}

func skip(r *diag.Report, reason string, ids ...diag.CheckID) *diag.Report {
	for _, id := range ids {
		withFinding(r, diag.Finding{Check: id, Status: diag.StatusSkipped, Title: okTitles[id], Detail: reason})
	}
	return finish(r)
}

// finish fills Summary and LikelyCause as diag does.
func finish(r *diag.Report) *diag.Report {
	r.Finish()
	return r
}

func securityGroupBlocks22() *diag.Report {
	r := healthyLinux()
	withFinding(r, diag.Finding{
		Check: diag.CheckSGLoginPort, Status: diag.StatusFail, Severity: diag.SeverityCritical,
		Title:       "Security group blocks TCP 22",
		Detail:      "sg-12345678 rule #0 DROP ALL 0.0.0.0/0 matches first",
		Remediation: "Open port 22 in sg-12345678, or press Open all ports",
		DocURL:      "https://intl.cloud.tencent.com/document/product/213/12452",
		Fixes:       []diag.FixAction{diag.FixOpenLoginPort, diag.FixOpenAllPorts},
		Evidence: map[string]any{
			"security_group": "sg-12345678",
			"deciding_rule":  map[string]any{"index": 0, "protocol": "ALL", "port": "ALL", "cidr": "0.0.0.0/0", "action": "DROP"},
			"port":           22,
		},
	})
	withFinding(r, diag.Finding{
		Check: diag.CheckPortReachable, Status: diag.StatusFail, Severity: diag.SeverityHigh,
		Title:       "TCP 22 is not reachable",
		Detail:      "connect to 1.2.3.4:22 timed out after 3s",
		Remediation: "Fix the security group first; then check the instance's firewall",
		DocURL:      "https://intl.cloud.tencent.com/document/product/213/32500",
		Evidence:    map[string]any{"address": "1.2.3.4:22", "timeout": "3s"},
	})
	withFinding(r, diag.Finding{
		Check: diag.CheckSGICMP, Status: diag.StatusWarn, Severity: diag.SeverityInfo,
		Title:       "Ping is blocked",
		Detail:      "no rule of sg-12345678 accepts ICMP",
		Remediation: "Allow ICMP if you want ping to work; login does not need it",
		DocURL:      "https://intl.cloud.tencent.com/document/product/213/12452",
		Fixes:       []diag.FixAction{diag.FixOpenAllPorts},
	})
	return r
}

func stoppedInstance() *diag.Report {
	r := healthyLinux()
	r.Instance.State = "STOPPED"
	withFinding(r, diag.Finding{
		Check: diag.CheckInstanceState, Status: diag.StatusFail, Severity: diag.SeverityCritical,
		Title:       "Instance is stopped",
		Detail:      "InstanceState is STOPPED (stopped by StopInstances at 2026-11-28 03:02 UTC)",
		Remediation: "Start the instance, or press Start instance",
		DocURL:      "https://intl.cloud.tencent.com/document/product/213/32500",
		Fixes:       []diag.FixAction{diag.FixStartInstance},
		Evidence:    map[string]any{"state": "STOPPED", "latest_operation": "StopInstances"},
	})
	return skip(r, "the instance is not running",
		diag.CheckPortReachable, diag.CheckBandwidthUsage, diag.CheckLoadCPU, diag.CheckLoadMemory,
		diag.CheckGuestAgent, diag.CheckGuestLoginService, diag.CheckGuestLoginConfig, diag.CheckGuestDisk)
}

func highCPU() *diag.Report {
	r := healthyLinux()
	withFinding(r, diag.Finding{
		Check: diag.CheckLoadCPU, Status: diag.StatusFail, Severity: diag.SeverityHigh,
		Title:       "CPU is saturated",
		Detail:      "CPU usage averaged 98% over the last 15 minutes (max 99.6%)",
		Remediation: "Find the busy process with top, or restart the instance",
		DocURL:      "https://intl.cloud.tencent.com/document/product/213/32387",
		Fixes:       []diag.FixAction{diag.FixRestartInstance},
		Evidence: map[string]any{
			"values": []any{12.0, 15.0, 14.0, 30.0, 62.0, 85.0, 97.0, 98.0, 99.6, 98.0, 98.5, 99.0},
			"window": "2026-11-28T03:18:00Z to 04:18:00Z, 300 s period",
		},
	})
	return withFinding(r, diag.Finding{
		Check: diag.CheckGuestLoginService, Status: diag.StatusUnknown, Severity: diag.SeverityMedium,
		Title:       "Could not check sshd",
		Detail:      "the TAT command did not finish within 10s (the instance is overloaded)",
		Remediation: "Diagnose again once the load drops",
		DocURL:      "https://intl.cloud.tencent.com/document/product/1147/46030",
	})
}

func unknownBillingPermission() *diag.Report {
	r := healthyLinux()
	return withFinding(r, diag.Finding{
		Check: diag.CheckAccountArrears, Status: diag.StatusUnknown, Severity: diag.SeverityMedium,
		Title:       "Could not read the account balance",
		Detail:      "billing:DescribeAccountBalance: permission missing (UnauthorizedOperation.CamNoAuth) [request 5a0c2e1f-7b3d-4c9a-8e6f-0d1c2b3a4f5e]",
		Remediation: "Grant the bot's CAM user billing:DescribeAccountBalance, or ignore this if the account is paid up",
		DocURL:      "https://intl.cloud.tencent.com/document/product/555/7440",
		Evidence:    map[string]any{"error_code": "UnauthorizedOperation.CamNoAuth", "request_id": "5a0c2e1f-7b3d-4c9a-8e6f-0d1c2b3a4f5e"},
	})
}

// inProgress returns the security-group report as it stands while the
// checks after the security group are still running.
func inProgress() (*diag.Report, []diag.CheckID) {
	r := securityGroupBlocks22()
	pending := []diag.CheckID{
		diag.CheckPortReachable, diag.CheckBandwidthUsage, diag.CheckLoadCPU, diag.CheckLoadMemory,
		diag.CheckGuestAgent, diag.CheckGuestLoginService, diag.CheckGuestLoginConfig, diag.CheckGuestDisk,
	}
	var done []diag.Finding
	for _, f := range r.Findings {
		if !slices.Contains(pending, f.Check) {
			done = append(done, f)
		}
	}
	r.Findings = done
	return finish(r), pending
}

// buttonValues gives every action of ids an opaque value, as the caller would
// after storing the button's state.
func buttonValues(ids []string) map[string]string {
	values := map[string]string{}
	for i, id := range ids {
		values[id] = "b7f3c2-" + strconv.Itoa(i)
	}
	return values
}

// withSymptom returns r with the user's error message text classified.
func withSymptom(r *diag.Report, text string) *diag.Report {
	r.Symptom = diag.ClassifySymptom(text, r.Instance.OS)
	return r
}
