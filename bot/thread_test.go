package bot

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cvmlogin/cvmlogin/diag"
)

func TestThreadMessagesGolden(t *testing.T) {
	r := securityGroupBlocks22()
	after := withFinding(securityGroupBlocks22(), diag.Finding{Check: diag.CheckSGLoginPort, Status: diag.StatusOK, Title: "Security groups accept TCP 22"})
	withFinding(after, diag.Finding{Check: diag.CheckPortReachable, Status: diag.StatusOK, Title: "TCP 22 is reachable"})
	var b strings.Builder
	for i, m := range FindingDetails(r) {
		fmt.Fprintf(&b, "--- FindingDetails message %d ---\n%s\n", i+1, m)
	}
	fmt.Fprintf(&b, "--- CallLog ---\n%s\n", CallLog(r))
	fmt.Fprintf(&b, "--- Diff ---\n%s\n", strings.Join(Diff(r, after), "\n"))
	assertGolden(t, []byte(b.String()), ".golden.txt")
}

func TestFindingDetails(t *testing.T) {
	messages := FindingDetails(securityGroupBlocks22())
	if len(messages) == 0 {
		t.Fatal("FindingDetails returned no messages")
	}
	all := strings.Join(messages, "\n")
	for _, want := range []string{
		":x: *security_group.login_port* · fail · critical\n*Security group blocks TCP 22*\nsg-12345678 rule #0 DROP ALL 0.0.0.0/0 matches first\n*Fix:* Open port 22 in sg-12345678, or press Open all ports · <https://intl.cloud.tencent.com/document/product/213/12452|Tencent docs>\n```\n",
		`deciding_rule: {"action":"DROP","cidr":"0.0.0.0/0","index":0,"port":"ALL","protocol":"ALL"}`,
		"port: 22\nsecurity_group: sg-12345678\n```",
		"values: 3, 4, 2, 5, 3, 4, 6, 3, 2, 4, 3, 5\nwindow: last 60 min, 300 s period",
		"values: 41, 41.5, 42, 41.8, 42.2, 41.9",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("FindingDetails does not contain %q:\n%s", want, all)
		}
	}
	var order []int
	for _, id := range []diag.CheckID{diag.CheckSGLoginPort, diag.CheckPortReachable, diag.CheckSGICMP, diag.CheckInstanceFound, diag.CheckGuestDisk} {
		order = append(order, strings.Index(all, "*"+string(id)+"*"))
	}
	if !slices.IsSorted(order) || order[0] < 0 {
		t.Errorf("positions of fail, fail, warn, ok, ok findings = %v, want increasing", order)
	}
	if FindingDetails(nil) != nil {
		t.Error("FindingDetails(nil) is not empty")
	}
}

func TestFindingDetailsSkippedReason(t *testing.T) {
	all := strings.Join(FindingDetails(stoppedInstance()), "\n")
	if want := ":heavy_minus_sign: *guest.disk* · skipped\n*Root filesystem has space and inodes*\nthe instance is not running"; !strings.Contains(all, want) {
		t.Errorf("FindingDetails does not give the skip reason %q:\n%s", want, all)
	}
}

func TestFindingDetailsExtremeContent(t *testing.T) {
	r := extremeReport()
	messages := FindingDetails(r)
	if len(messages) < len(r.Findings)/2 {
		t.Errorf("got %d messages for %d huge findings", len(messages), len(r.Findings))
	}
	for i, m := range messages {
		if n := utf8.RuneCountInString(m); n > maxThreadText {
			t.Errorf("message %d is %d characters, limit %d", i, n, maxThreadText)
		}
		if n := strings.Count(m, codeFence); n%2 != 0 {
			t.Errorf("message %d has %d code fences: a code block is left open", i, n)
		}
		if !utf8.ValidString(m) {
			t.Errorf("message %d is not valid UTF-8", i)
		}
	}
	all := strings.Join(messages, "\n")
	for _, id := range diag.CheckIDs {
		if !strings.Contains(all, "*"+string(id)+"*") {
			t.Errorf("no message mentions %s", id)
		}
	}
	if !strings.Contains(all, "more)") {
		t.Error("evidence that did not fit is not counted")
	}
	for _, bad := range []string{"<&>", "\n```\n```"} {
		if strings.Contains(all, bad) {
			t.Errorf("messages contain %q", bad)
		}
	}
}

func TestEvidenceValue(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"string", " two\nlines ", "two ⏎ lines"},
		{"whole float", 22.0, "22"},
		{"fraction", 0.25, "0.25"},
		{"int", 3, "3"},
		{"bool", true, "true"},
		{"numbers", []any{1.0, 2.5}, "1, 2.5"},
		{"float slice", []float64{1, 2}, "1, 2"},
		{"mixed list", []any{1.0, "x"}, `[1,"x"]`},
		{"empty list", []any{}, "[]"},
		{"map", map[string]any{"b": 1, "a": "x"}, `{"a":"x","b":1}`},
		{"nil", nil, "null"},
		{"unmarshalable", func() {}, "0x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := evidenceValue(tc.in); !strings.HasPrefix(got, tc.want) {
				t.Errorf("evidenceValue(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestEvidenceLinesKeepCodeBlockClosed(t *testing.T) {
	got := evidenceLines(map[string]any{"output": "```\nrm -rf /\n```"}, 200)
	if strings.Contains(got, codeFence) {
		t.Errorf("evidenceLines = %q contains a code fence", got)
	}
}

func TestCallLog(t *testing.T) {
	r := healthyLinux()
	r.APICalls = append(r.APICalls, diag.APICall{
		Service: "billing", Action: "DescribeAccountBalance", DurationMS: 35, Attempts: 1,
		RequestID: "5a0c2e1f", ErrorCode: "UnauthorizedOperation.CamNoAuth",
	})
	got := CallLog(r)
	for _, want := range []string{
		"*Cloud API calls:* 4, 1 failed\n```\nSERVICE  ACTION",
		"cvm      DescribeInstances              ap-guangzhou  83   1      6f1c9a2e-0d3b-4b8e-9d6f-1a2b3c4d5e6f  -\n",
		"billing  DescribeAccountBalance         -             35   1      5a0c2e1f                              UnauthorizedOperation.CamNoAuth\n```",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("CallLog does not contain %q:\n%s", want, got)
		}
	}
	if got := CallLog(&diag.Report{}); got != "*Cloud API calls:* none were made." {
		t.Errorf("CallLog without calls = %q", got)
	}
	if got := CallLog(nil); got != "*Cloud API calls:* none were made." {
		t.Errorf("CallLog(nil) = %q", got)
	}
}

func TestCallLogManyCalls(t *testing.T) {
	r := healthyLinux()
	r.APICalls = nil
	for i := range 500 {
		r.APICalls = append(r.APICalls, diag.APICall{
			Service: "monitor", Action: "GetMonitorData", Region: "ap-guangzhou", DurationMS: int64(i), Attempts: 3,
			RequestID: fmt.Sprintf("req-%04d-<&>-%s", i, strings.Repeat("x", 100)), ErrorCode: "RequestLimitExceeded",
		})
	}
	got := CallLog(r)
	if n := utf8.RuneCountInString(got); n > maxThreadText {
		t.Errorf("CallLog is %d characters, limit %d", n, maxThreadText)
	}
	if !strings.Contains(got, "more calls not shown\n```") || !strings.HasPrefix(got, "*Cloud API calls:* 500, 500 failed") {
		t.Errorf("CallLog does not say calls were left out:\n%s", got)
	}
	if strings.Contains(got, "<&>") {
		t.Error("CallLog does not escape cells")
	}
}

func TestDiff(t *testing.T) {
	fixed := withFinding(securityGroupBlocks22(), diag.Finding{Check: diag.CheckSGLoginPort, Status: diag.StatusOK})
	extra := healthyLinux()
	extra.Findings = append(extra.Findings, diag.Finding{Check: "zeta.custom", Status: diag.StatusWarn}, diag.Finding{Check: "alpha.custom", Status: diag.StatusOK})
	tests := []struct {
		name          string
		before, after *diag.Report
		want          []string
	}{
		{"nothing changed", securityGroupBlocks22(), securityGroupBlocks22(), nil},
		{"both nil", nil, nil, nil},
		{"security group fixed", securityGroupBlocks22(), fixed, []string{"security_group.login_port: fail → ok"}},
		{"fixed in full, catalogue order", securityGroupBlocks22(), healthyLinux(), []string{
			"security_group.login_port: fail → ok", "port.reachable: fail → ok", "security_group.icmp: warn → ok",
		}},
		{"checks outside the catalogue, sorted", healthyLinux(), extra, []string{"alpha.custom: missing → ok", "zeta.custom: missing → warn"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Diff(tc.before, tc.after); !slices.Equal(got, tc.want) {
				t.Errorf("Diff = %q, want %q", got, tc.want)
			}
		})
	}
	got := Diff(nil, stoppedInstance())
	if len(got) != len(diag.CheckIDs) || got[0] != "instance.found: missing → ok" || got[4] != "instance.state: missing → fail" {
		t.Errorf("Diff(nil, r) = %q, want every check missing → its status", got)
	}
}
