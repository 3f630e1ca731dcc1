package bot

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/diag"
)

// message is the shape of a chat.postMessage payload, as golden files store
// it.
type message struct {
	Text   string        `json:"text"`
	Blocks []slack.Block `json:"blocks"`
}

func TestRenderReport(t *testing.T) {
	progress, pending := inProgress()
	tests := []struct {
		name string
		view ReportView
	}{
		{"healthy linux", finalView(healthyLinux())},
		{"security group blocks port 22", finalView(securityGroupBlocks22())},
		{"stopped instance", finalView(stoppedInstance())},
		{"symptom publickey with mrkdwn", finalView(withSymptom(securityGroupBlocks22(), "<!channel> `ubuntu@203.0.113.7: Permission denied (publickey)."))},
		{"high CPU with sparkline", finalView(highCPU())},
		{"unknown billing due to permission", finalView(unknownBillingPermission())},
		{"re-diagnosis with undo", ReportView{
			Report: healthyLinux(), Requester: "U024BE7LH", Final: true,
			Buttons: buttonValues(append(ButtonsFor(healthyLinux()), string(diag.FixUndoOpenPorts))),
			Note:    "Re-diagnosis after opening port 22 in sg-12345678, approved by <@U0G9QF9C6>",
		}},
		{"in progress", ReportView{Report: progress, Requester: "U024BE7LH", Pending: pending, Buttons: buttonValues(ButtonsFor(progress))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			blocks := RenderReport(tc.view)
			if err := ValidateBlocks(blocks); err != nil {
				t.Errorf("ValidateBlocks: %v", err)
			}
			text := ReportFallbackText(tc.view.Report)
			if !tc.view.Final {
				text = ProgressFallbackText(tc.view.Report)
			}
			got := marshalMessage(t, message{Text: text, Blocks: blocks})
			assertGolden(t, got, ".golden.json")
			assertSlackParses(t, got, len(blocks))
		})
	}
}

// marshalMessage returns m as indented JSON ending in a newline.
func marshalMessage(tb testing.TB, m message) []byte {
	tb.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		tb.Fatalf("marshalling the message: %v", err)
	}
	return append(b, '\n')
}

func finalView(r *diag.Report) ReportView {
	return ReportView{Report: r, Requester: "U024BE7LH", Final: true, Buttons: buttonValues(ButtonsFor(r))}
}

// assertSlackParses checks that slack-go reads the message back with every
// block typed.
func assertSlackParses(tb testing.TB, payload []byte, wantBlocks int) {
	tb.Helper()
	var m struct {
		Blocks slack.Blocks `json:"blocks"`
	}
	if err := json.Unmarshal(payload, &m); err != nil {
		tb.Fatalf("slack-go cannot read the blocks back: %v", err)
	}
	if len(m.Blocks.BlockSet) != wantBlocks {
		tb.Errorf("read back %d blocks, want %d", len(m.Blocks.BlockSet), wantBlocks)
	}
	for _, b := range m.Blocks.BlockSet {
		if _, unknown := b.(*slack.UnknownBlock); unknown {
			tb.Errorf("block %q read back as unknown", b.ID())
		}
	}
}

// renderedText returns every text of blocks, by block ID.
func renderedText(blocks []slack.Block) map[string]string {
	texts := map[string]string{}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			texts[b.BlockID] = b.Text.Text
		case *slack.SectionBlock:
			texts[b.BlockID] = b.Text.Text
		case *slack.ContextBlock:
			var parts []string
			for _, e := range b.ContextElements.Elements {
				parts = append(parts, e.(*slack.TextBlockObject).Text)
			}
			texts[b.BlockID] = strings.Join(parts, "\n")
		}
	}
	return texts
}

func blockIDs(blocks []slack.Block) []string {
	ids := make([]string, len(blocks))
	for i, b := range blocks {
		ids[i] = b.ID()
	}
	return ids
}

func buttonsOf(tb testing.TB, blocks []slack.Block) []*slack.ButtonBlockElement {
	tb.Helper()
	var buttons []*slack.ButtonBlockElement
	for _, b := range blocks {
		if a, ok := b.(*slack.ActionBlock); ok {
			for _, e := range a.Elements.ElementSet {
				buttons = append(buttons, e.(*slack.ButtonBlockElement))
			}
		}
	}
	return buttons
}

func TestRenderReportFinal(t *testing.T) {
	r := securityGroupBlocks22()
	blocks := RenderReport(ReportView{Report: r, Requester: "U024BE7LH", Final: true, Buttons: buttonValues(ButtonsFor(r))})
	wantIDs := []string{
		"report.header", "report.context", "report.verdict",
		"finding.security_group.login_port", "finding.port.reachable", "finding.security_group.icmp",
		"report.passed", "report.metrics", "report.footer", "report.actions",
	}
	if got := blockIDs(blocks); !slices.Equal(got, wantIDs) {
		t.Errorf("block IDs = %q, want %q", got, wantIDs)
	}
	texts := renderedText(blocks)
	for id, want := range map[string]string{
		"report.header":                     "web-1 (ins-abc12345)",
		"report.context":                    "Region *ap-guangzhou* · CentOS 7.6 64bit · public IP 1.2.3.4 · login port 22",
		"report.verdict":                    "*Likely cause:* Security group blocks TCP 22",
		"finding.security_group.login_port": ":x: *Security group blocks TCP 22* · `security_group.login_port` · critical\nsg-12345678 rule #0 DROP ALL 0.0.0.0/0 matches first\n*Fix:* Open port 22 in sg-12345678, or press Open all ports · <https://intl.cloud.tencent.com/document/product/213/12452|Tencent docs>",
		"finding.security_group.icmp":       ":warning: *Ping is blocked*",
		"report.passed":                     ":white_check_mark: 15 ok: instance.found, account.arrears,",
		"report.metrics":                    "CPU ▁▁▁▁▁▁▁▁▁▁▁▁ max 6%",
		"report.footer":                     "Diagnosed in 412 ms · requested by <@U024BE7LH> · details in thread",
	} {
		if !strings.Contains(texts[id], want) {
			t.Errorf("%s = %q, want it to contain %q", id, texts[id], want)
		}
	}
	if strings.Contains(texts["report.passed"], "skipped") {
		t.Errorf("report.passed = %q mentions skipped checks, but none were skipped", texts["report.passed"])
	}
}

func TestRenderReportFindingOrder(t *testing.T) {
	r := healthyLinux()
	warn := func(id diag.CheckID) diag.Finding {
		return diag.Finding{Check: id, Status: diag.StatusWarn, Title: "warn " + string(id)}
	}
	withFinding(r, warn(diag.CheckInstanceFound))
	withFinding(r, diag.Finding{Check: diag.CheckAccountArrears, Status: diag.StatusUnknown, Title: "unknown"})
	withFinding(r, diag.Finding{Check: diag.CheckGuestDisk, Status: diag.StatusFail, Title: "disk full"})
	withFinding(r, diag.Finding{Check: diag.CheckLoadCPU, Status: diag.StatusFail, Title: "cpu"})
	withFinding(r, diag.Finding{Check: diag.CheckPublicIP, Status: diag.StatusSkipped, Title: "skipped"})
	blocks := RenderReport(ReportView{Report: r, Final: true})
	var findings []string
	for _, id := range blockIDs(blocks) {
		if check, ok := strings.CutPrefix(id, "finding."); ok {
			findings = append(findings, check)
		}
	}
	want := []string{"load.cpu", "guest.disk", "account.arrears", "instance.found"}
	if !slices.Equal(findings, want) {
		t.Errorf("finding sections = %q, want fail, unknown, warn in report order: %q", findings, want)
	}
	texts := renderedText(blocks)
	if want := ":heavy_minus_sign: 1 skipped: network.public_ip"; !strings.Contains(texts["report.passed"], want) {
		t.Errorf("report.passed = %q, want %q", texts["report.passed"], want)
	}
	if got := texts["report.verdict"]; !strings.Contains(got, "*Likely cause:* cpu") {
		t.Errorf("verdict = %q, want the likely cause's title", got)
	}
	if _, ok := renderedText(blocks)["report.actions"]; ok || len(buttonsOf(t, blocks)) != 0 {
		t.Error("a view without Buttons has buttons")
	}
	if got := texts["report.footer"]; strings.Contains(got, "requested by") {
		t.Errorf("footer = %q names a requester, but there is none", got)
	}
}

func TestRenderReportVerdict(t *testing.T) {
	warned := withFinding(healthyLinux(), diag.Finding{Check: diag.CheckSGICMP, Status: diag.StatusWarn, Title: "Ping is blocked"})
	tests := []struct {
		name   string
		report *diag.Report
		want   string
	}{
		{"healthy", healthyLinux(), ":white_check_mark: *No problem found:* 18 ok. If you still cannot log in"},
		{"unknown only", unknownBillingPermission(), "*No problem found:* 1 unknown, 17 ok. Some checks could not tell; see below."},
		{"warning only", warned, ":warning: *Summary:* 1 warning, 17 ok."},
		{"likely cause", stoppedInstance(), ":rotating_light: *Likely cause:* Instance is stopped"},
		{"likely cause without its finding", func() *diag.Report {
			r := healthyLinux()
			id := diag.CheckID("custom.check")
			r.LikelyCause = &id
			return r
		}(), "*Likely cause:* custom.check"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := renderedText(RenderReport(ReportView{Report: tc.report, Final: true}))["report.verdict"]
			if !strings.Contains(got, tc.want) {
				t.Errorf("verdict = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestRenderReportProgress(t *testing.T) {
	r, pending := inProgress()
	blocks := RenderReport(ReportView{Report: r, Requester: "U024BE7LH", Pending: pending, Buttons: buttonValues(ButtonsFor(r)), Note: "second run"})
	if got, want := blockIDs(blocks), []string{"report.header", "report.context", "report.note", "report.progress"}; !slices.Equal(got, want) {
		t.Errorf("block IDs = %q, want %q", got, want)
	}
	texts := renderedText(blocks)
	for id, want := range map[string]string{
		"report.header":   "Diagnosing web-1 (ins-abc12345)",
		"report.context":  "in *ap-guangzhou* for <@U024BE7LH>",
		"report.note":     "second run",
		"report.progress": ":hourglass_flowing_sand: *10 of 18 checks done*\n:x: *Security group blocks TCP 22*\n:warning: *Ping is blocked*\nWaiting for: port.reachable, network.bandwidth_usage",
	} {
		if !strings.HasPrefix(texts[id], want) {
			t.Errorf("%s = %q, want it to start with %q", id, texts[id], want)
		}
	}
	if len(buttonsOf(t, blocks)) != 0 {
		t.Error("the in-progress view has buttons")
	}
}

func TestRenderReportNil(t *testing.T) {
	if blocks := RenderReport(ReportView{Final: true}); blocks != nil {
		t.Errorf("RenderReport without a report = %d blocks, want none", len(blocks))
	}
}

// notFound is the report of a target that matches no instance.
func notFound() *diag.Report {
	r := &diag.Report{Target: "203.0.113.10", Region: "ap-shanghai", DurationMS: 95}
	r.Findings = []diag.Finding{{
		Check: diag.CheckInstanceFound, Status: diag.StatusFail, Severity: diag.SeverityCritical,
		Title: "No instance has public IP 203.0.113.10 in ap-shanghai", Remediation: "Check the region",
	}}
	for _, id := range diag.CheckIDs[1:] {
		r.Findings = append(r.Findings, diag.Finding{Check: id, Status: diag.StatusSkipped, Detail: "no instance"})
	}
	return finish(r)
}

func TestRenderReportInstanceNotFound(t *testing.T) {
	r := notFound()
	blocks := RenderReport(ReportView{Report: r, Final: true, Buttons: buttonValues(ButtonsFor(r))})
	if err := ValidateBlocks(blocks); err != nil {
		t.Fatalf("ValidateBlocks: %v", err)
	}
	texts := renderedText(blocks)
	if got := texts["report.header"]; got != "203.0.113.10" {
		t.Errorf("header = %q, want the target as typed", got)
	}
	if got, want := texts["report.context"], "Region *ap-shanghai* · instance not found"; got != want {
		t.Errorf("context = %q, want %q", got, want)
	}
	if got := ReportFallbackText(r); got != "203.0.113.10: likely cause: No instance has public IP 203.0.113.10 in ap-shanghai" {
		t.Errorf("ReportFallbackText = %q", got)
	}
	if got, want := ProgressFallbackText(r), "Diagnosing 203.0.113.10…"; got != want {
		t.Errorf("ProgressFallbackText = %q, want %q", got, want)
	}
}

func TestRenderReportEscapesReportText(t *testing.T) {
	r := healthyLinux()
	r.Instance.Name = "<!channel> & friends"
	withFinding(r, diag.Finding{
		Check: diag.CheckSGLoginPort, Status: diag.StatusFail, Title: "Rule <@U0ADMIN> wins",
		Detail: "description is <https://evil.example|click me>", Remediation: "a > b && c < d",
		DocURL: "https://example.com/doc?a=1|<evil>",
	})
	blocks := RenderReport(ReportView{Report: r, Final: true, Requester: "<!here>"})
	texts := renderedText(blocks)
	section := texts["finding.security_group.login_port"]
	for _, bad := range []string{"<@U0ADMIN>", "<https://evil", "<!here>", "|Tencent docs>"} {
		if strings.Contains(section+texts["report.footer"], bad) {
			t.Errorf("rendered text contains %q unescaped: %q", bad, section)
		}
	}
	if !strings.Contains(section, "Rule &lt;@U0ADMIN&gt; wins") || !strings.Contains(section, "a &gt; b &amp;&amp; c &lt; d") {
		t.Errorf("section = %q, want the report text escaped", section)
	}
	if got, want := texts["report.header"], "<!channel> & friends (ins-abc12345)"; got != want {
		t.Errorf("plain_text header = %q, want %q (plain text is not parsed)", got, want)
	}
	if got := ReportFallbackText(r); !strings.HasPrefix(got, "&lt;!channel&gt; &amp; friends") {
		t.Errorf("ReportFallbackText = %q, want it escaped", got)
	}
}

func TestRenderReportButtons(t *testing.T) {
	r := securityGroupBlocks22()
	all := append(slices.Clone(buttonOrder), "approve", "unknown_action")
	values := buttonValues(all)
	buttons := buttonsOf(t, RenderReport(ReportView{Report: r, Final: true, Buttons: values}))
	type look struct {
		actionID, text string
		style          slack.Style
		confirm        string
	}
	want := []look{
		{"open_login_port", "Open port 22", slack.StylePrimary, "Adds an inbound rule at the top of sg-12345678: TCP 22 from 0.0.0.0/0. Everyone can reach port 22."},
		{"open_all_ports", "Open all ports", slack.StyleDanger, "Adds inbound rules at the top of sg-12345678: TCP 20, 21, 22, 80, 443, 3389 and ICMP from 0.0.0.0/0. Everyone can reach these ports."},
		{"enable_rdp", "Enable Remote Desktop", slack.StyleDefault, "Runs a script inside ins-abc12345 through TAT that allows Remote Desktop connections (fDenyTSConnections=0) and enables the Remote Desktop rules of Windows Firewall."},
		{"open_guest_firewall", "Open port in guest firewall", slack.StyleDefault, "Runs a script inside ins-abc12345 through TAT that allows TCP 22 in the guest's own firewall (firewalld, ufw or iptables), with a rule cvmlogin can remove again."},
		{"fix_authorized_keys", "Fix key permissions", slack.StyleDefault, "Runs a script inside ins-abc12345 through TAT that sets ~/.ssh to 700 and authorized_keys to 600, owned by the login user, and removes group and other write permission from the home directory. No key is read or changed."},
		{"restart_login_service", "Restart login service", slack.StyleDefault, "Runs a script inside ins-abc12345 through TAT that restarts sshd; it is not restarted if its configuration is invalid, since it would not come back."},
		{"start_instance", "Start instance", slack.StyleDefault, "Starts ins-abc12345. A pay-as-you-go instance is billed again while it runs."},
		{"restart_instance", "Restart instance", slack.StyleDanger, "Reboots ins-abc12345 (soft first, then hard). Unsaved work is lost."},
		{"undo_open_ports", "Close opened ports", slack.StyleDanger, "Deletes the inbound rules cvmlogin added to sg-12345678 (described cvmlogin:…). Whatever they let in is blocked again."},
		{"undo_guest_firewall", "Close port in guest firewall", slack.StyleDanger, "Runs a script inside ins-abc12345 through TAT that removes the rule cvmlogin added to the guest's own firewall (firewalld, ufw or iptables)."},
		{"open_vnc", "Open VNC console", slack.StyleDefault, ""},
		{"watch_login", "Tell me when login works", slack.StyleDefault, ""},
		{"paste_symptom", "Paste the error I see", slack.StyleDefault, ""},
		{"rediagnose", "Diagnose again", slack.StyleDefault, ""},
		{"export_report", "Export report", slack.StyleDefault, ""},
	}
	var got []look
	for _, b := range buttons {
		l := look{b.ActionID, b.Text.Text, b.Style, ""}
		if b.Confirm != nil {
			l.confirm = b.Confirm.Text.Text
			if b.Confirm.Style != slack.StyleDanger || b.Confirm.Deny == nil {
				t.Errorf("%s: confirm dialog style %q deny %v, want danger with a Cancel button", b.ActionID, b.Confirm.Style, b.Confirm.Deny)
			}
		}
		if b.Value != values[b.ActionID] {
			t.Errorf("%s: value %q, want the opaque %q", b.ActionID, b.Value, values[b.ActionID])
		}
		got = append(got, l)
	}
	if !slices.Equal(got, want) {
		t.Errorf("buttons:\n got %+v\nwant %+v", got, want)
	}
}

func TestRenderReportButtonsWithoutInstanceDetails(t *testing.T) {
	r := healthyLinux()
	r.Instance.SecurityGroups, r.Instance.LoginPort = nil, 0
	buttons := buttonsOf(t, RenderReport(ReportView{Report: r, Final: true, Buttons: buttonValues([]string{"open_login_port"})}))
	if len(buttons) != 1 {
		t.Fatalf("got %d buttons, want 1", len(buttons))
	}
	b := buttons[0]
	if b.Text.Text != "Open the login port" || !strings.Contains(b.Confirm.Text.Text, "the instance's first security group: TCP on the login port") {
		t.Errorf("button %q confirm %q, want wording without a port or group", b.Text.Text, b.Confirm.Text.Text)
	}
}

func TestButtonsFor(t *testing.T) {
	tests := []struct {
		name   string
		report *diag.Report
		want   []string
	}{
		{"nil report", nil, []string{"paste_symptom", "rediagnose", "export_report"}},
		{"healthy: restart is the guide's fallback", healthyLinux(), []string{"restart_instance", "paste_symptom", "rediagnose", "export_report"}},
		{"instance not found: no fallback", notFound(), []string{"paste_symptom", "rediagnose", "export_report"}},
		{"security group", securityGroupBlocks22(), []string{"open_login_port", "open_all_ports", "open_vnc", "watch_login", "paste_symptom", "rediagnose", "export_report"}},
		{"stopped", stoppedInstance(), []string{"start_instance", "watch_login", "paste_symptom", "rediagnose", "export_report"}},
		{"high CPU", highCPU(), []string{"restart_instance", "watch_login", "paste_symptom", "rediagnose", "export_report"}},
		{"fixes of ok findings and undo are ignored", func() *diag.Report {
			r := healthyLinux()
			return withFinding(r, diag.Finding{Check: diag.CheckSGLoginPort, Status: diag.StatusOK, Fixes: []diag.FixAction{diag.FixOpenAllPorts}})
		}(), []string{"restart_instance", "paste_symptom", "rediagnose", "export_report"}},
		{"undo is never proposed", withFinding(healthyLinux(), diag.Finding{
			Check: diag.CheckSGICMP, Status: diag.StatusWarn, Fixes: []diag.FixAction{diag.FixUndoOpenPorts, "future_fix", diag.FixOpenAllPorts},
		}), []string{"open_all_ports", "restart_instance", "paste_symptom", "rediagnose", "export_report"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ButtonsFor(tc.report); !slices.Equal(got, tc.want) {
				t.Errorf("ButtonsFor = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReportFallbackText(t *testing.T) {
	long := healthyLinux()
	long.Instance.Name = strings.Repeat("n", 500)
	tests := []struct {
		name   string
		report *diag.Report
		want   string
	}{
		{"nil", nil, ""},
		{"healthy", healthyLinux(), "web-1 (ins-abc12345): no problem found (18 ok)"},
		{"likely cause", securityGroupBlocks22(), "web-1 (ins-abc12345): likely cause: Security group blocks TCP 22"},
		{"warning", withFinding(healthyLinux(), diag.Finding{Check: diag.CheckSGICMP, Status: diag.StatusWarn}), "web-1 (ins-abc12345): 1 warning, 17 ok"},
		{"long name", long, strings.Repeat("n", 299) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReportFallbackText(tc.report); got != tc.want {
				t.Errorf("ReportFallbackText = %q, want %q", got, tc.want)
			}
		})
	}
}

// extremeReport has every check failing with 10 KB of detail, remediation
// and evidence, a 150-character name and a 5000-character doc URL.
func extremeReport() *diag.Report {
	r := healthyLinux()
	r.Instance.Name = strings.Repeat("名", 150)
	r.Instance.OSName = strings.Repeat("Windows Server ", 200)
	r.Region = strings.Repeat("ap-", 1000)
	big := strings.Repeat("<&> x ", 10_000/6)
	series := make([]any, 10_000)
	for i := range series {
		series[i] = float64(i % 100)
	}
	for i, id := range diag.CheckIDs {
		withFinding(r, diag.Finding{
			Check: id, Status: diag.StatusFail, Severity: diag.SeverityCritical,
			Title: strings.Repeat("T", 1000), Detail: big, Remediation: big,
			DocURL: "https://example.com/" + strings.Repeat("d", 5000),
			Fixes:  diag.FixActions,
			Evidence: map[string]any{
				"values": series, "blob": big, "rule": map[string]any{"description": big},
				fmt.Sprintf("key%02d", i): strings.Repeat("v", 1000),
			},
		})
	}
	return r
}

func TestRenderReportExtremeContentStaysWithinLimits(t *testing.T) {
	r := extremeReport()
	longValues := map[string]string{}
	for _, id := range buttonOrder {
		longValues[id] = strings.Repeat("v", maxButtonValue)
	}
	long := strings.Repeat("note <@U1> ", 1000)
	views := map[string]ReportView{
		"final":       {Report: r, Requester: "U024BE7LH", Final: true, Buttons: longValues, Note: long},
		"in progress": {Report: r, Requester: strings.Repeat("U", 500), Pending: diag.CheckIDs, Note: long},
	}
	for name, v := range views {
		t.Run(name, func(t *testing.T) {
			blocks := RenderReport(v)
			if err := ValidateBlocks(blocks); err != nil {
				t.Fatalf("ValidateBlocks: %v", err)
			}
			assertSlackParses(t, marshalMessage(t, message{Blocks: blocks}), len(blocks))
		})
	}
	if got := len(buttonsOf(t, RenderReport(views["final"]))); got != len(buttonOrder) {
		t.Errorf("got %d buttons, want %d", got, len(buttonOrder))
	}
	texts := renderedText(RenderReport(views["final"]))
	if !strings.Contains(texts["finding.instance.found"], seeThread) {
		t.Errorf("a truncated finding does not point to the thread: %q", texts["finding.instance.found"])
	}
}

func TestRenderReportManyFindingsFoldIntoOneLine(t *testing.T) {
	r := healthyLinux()
	for i := range 80 {
		r.Findings = append(r.Findings, diag.Finding{Check: diag.CheckID(fmt.Sprintf("extra.check%02d", i)), Status: diag.StatusWarn, Title: "extra"})
	}
	finish(r)
	blocks := RenderReport(ReportView{Report: r, Final: true, Buttons: buttonValues(buttonOrder)})
	if err := ValidateBlocks(blocks); err != nil {
		t.Fatalf("ValidateBlocks: %v", err)
	}
	if got, want := renderedText(blocks)["report.more"], "… and 40 more findings (see thread)"; got != want {
		t.Errorf("report.more = %q, want %q", got, want)
	}
}

// TestPrimaryButtonIsTheLikelyCausesFix: the green button is the first fix
// of the likely cause, or there is none; other fixes keep their harshness.
func TestPrimaryButtonIsTheLikelyCausesFix(t *testing.T) {
	stoppedAndBlocked := withFinding(stoppedInstance(), diag.Finding{
		Check: diag.CheckSGLoginPort, Status: diag.StatusFail, Severity: diag.SeverityCritical, Title: "Security group blocks TCP 22",
		Fixes: []diag.FixAction{diag.FixOpenLoginPort, diag.FixOpenAllPorts},
	})
	isolatedAndBlocked := withFinding(withFinding(healthyLinux(), diag.Finding{
		Check: diag.CheckInstanceIsolation, Status: diag.StatusFail, Severity: diag.SeverityCritical, Title: "Instance is under security isolation",
	}), diag.Finding{
		Check: diag.CheckSGLoginPort, Status: diag.StatusFail, Severity: diag.SeverityCritical, Title: "Security group blocks TCP 22",
		Fixes: []diag.FixAction{diag.FixOpenLoginPort, diag.FixOpenAllPorts},
	})
	tests := []struct {
		name    string
		report  *diag.Report
		primary string // "" for none
	}{
		{"security group is the cause", securityGroupBlocks22(), "open_login_port"},
		{"stopped and blocked: start first", stoppedAndBlocked, "start_instance"},
		{"isolated and blocked: nothing a button fixes", isolatedAndBlocked, ""},
		{"nothing failed: restart is offered, not pushed", healthyLinux(), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buttons := buttonsOf(t, RenderReport(finalView(tc.report)))
			var primary []string
			for _, b := range buttons {
				if b.Style == slack.StylePrimary {
					primary = append(primary, b.ActionID)
				}
			}
			want := []string{}
			if tc.primary != "" {
				want = []string{tc.primary}
			}
			if !slices.Equal(append([]string{}, primary...), want) {
				t.Errorf("primary buttons = %q, want %q", primary, want)
			}
		})
	}
}

// TestREADMENamesTheButtons: the README's fix table uses the catalogue's
// labels, and none of the old names.
func TestREADMENamesTheButtons(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	for _, label := range append(diag.FixLabels(22), diag.LabelRediagnose, diag.LabelExport) {
		if !strings.Contains(text, label) {
			t.Errorf("README does not name the button %q", label)
		}
	}
	for _, stale := range []string{"*Open login port*", "| Open login port |", "*Re-diagnose*", "*Export*", "\"Restart\"", "design.md"} {
		if strings.Contains(text, stale) {
			t.Errorf("README still says %s", stale)
		}
	}
}

// TestRenderReportStillFailingAfterRediagnosis: a re-diagnosis that finds
// the same likely cause says a fix did not help and points at the ticket.
func TestRenderReportStillFailingAfterRediagnosis(t *testing.T) {
	view := finalView(securityGroupBlocks22())
	view.Previous = securityGroupBlocks22()
	if got := renderedText(RenderReport(view))["report.verdict"]; !strings.Contains(got, "Still the likely cause") || !strings.Contains(got, diag.TicketURL) {
		t.Errorf("verdict %q does not escalate", got)
	}
	view.Previous = stoppedInstance()
	if got := renderedText(RenderReport(view))["report.verdict"]; strings.Contains(got, "Still the likely cause") {
		t.Errorf("verdict %q escalates though the cause changed", got)
	}
}
