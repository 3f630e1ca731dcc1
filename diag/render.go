package diag

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// Mark is the one-character status mark used in text output.
func (s Status) Mark() string {
	switch s {
	case StatusOK:
		return "✓"
	case StatusWarn:
		return "!"
	case StatusFail:
		return "✗"
	case StatusUnknown:
		return "?"
	}
	return "-"
}

// DisplayOrder orders statuses for people, the one place it is defined:
// what blocks login first, then what could not be checked, then warnings,
// then the rest. Findings, counts and summaries follow it.
var DisplayOrder = []Status{StatusFail, StatusUnknown, StatusWarn, StatusOK, StatusSkipped}

// Count returns how many findings have status st.
func (s Summary) Count(st Status) int {
	switch st {
	case StatusOK:
		return s.OK
	case StatusWarn:
		return s.Warn
	case StatusFail:
		return s.Fail
	case StatusUnknown:
		return s.Unknown
	case StatusSkipped:
		return s.Skipped
	}
	return 0
}

// Rank is s's place in display order: 0 for fail, then unknown, warn, ok
// and skipped; an undefined status ranks last.
func (s Status) Rank() int {
	if i := slices.Index(DisplayOrder, s); i >= 0 {
		return i
	}
	return len(DisplayOrder)
}

// Phrase says what a check with status s did, for sentences such as
// "instance.state failed: Instance is shut down".
func (s Status) Phrase() string {
	switch s {
	case StatusOK:
		return "passed"
	case StatusWarn:
		return "warned"
	case StatusFail:
		return "failed"
	case StatusUnknown:
		return "could not tell"
	case StatusSkipped:
		return "was skipped"
	}
	return "ended " + string(s)
}

// NeedsAttention reports whether a finding with status s is shown on its
// own (fail, unknown, warn) rather than folded into a summary line.
func (s Status) NeedsAttention() bool { return s.Rank() < StatusOK.Rank() }

// ByAttention returns the findings ordered fail, unknown, warn, ok, skipped,
// keeping catalogue order within each status.
func (r *Report) ByAttention() []Finding {
	out := slices.Clone(r.Findings)
	slices.SortStableFunc(out, func(a, b Finding) int { return a.Status.Rank() - b.Status.Rank() })
	return out
}

// Describe says what the verdict means, for people: "a DROP rule matches
// first" rather than "drop".
func (v Verdict) Describe() string {
	switch v {
	case VerdictAccept:
		return "accepted from anywhere"
	case VerdictPartial:
		return "accepted only from some sources"
	case VerdictDrop:
		return "a DROP rule matches first"
	case VerdictNoMatch:
		return "no rule matches, so it is rejected by default"
	case VerdictIndeterminate:
		return "a rule that cannot be evaluated here may decide"
	}
	return "verdict " + string(v)
}

// Describe names the kind of target for people: "instance ID", "public IP",
// "name".
func (k TargetKind) Describe() string {
	switch k {
	case TargetInstanceID:
		return "instance ID"
	case TargetPublicIP:
		return "public IP"
	}
	return "name"
}

// notFoundRemedy says what to do when no instance matches t. Only public
// IPs are searched, so a private address gets its own advice.
func notFoundRemedy(t Target) string {
	const regions = "pass its region, e.g. `" + TargetExample + " ap-shanghai`, or list more regions in tencentcloud.regions."
	switch t.Kind {
	case TargetPublicIP:
		if addr, err := netip.ParseAddr(t.Raw); err == nil && (addr.IsPrivate() || addr.IsLinkLocalUnicast() || cgnat.Contains(addr)) {
			return t.Raw + " is a private address, and only public IPs are searched: give the instance ID (e.g. " + TargetExample + ") or its public IP."
		}
		return "Only public IPs are searched: check that " + t.Raw + " is the instance's public IP or EIP, or give the instance ID; " + regions
	case TargetName:
		return "Check the exact instance name (it is case-sensitive), or give the instance ID; " + regions
	}
	return "Check the instance ID and " + regions
}

// cgnat is the shared address space (RFC 6598) that Tencent Cloud also uses
// for private networking; it is never a public IP.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Heading is a one-line description of what was diagnosed.
func (r *Report) Heading() string {
	in := r.Instance
	if in == nil {
		return fmt.Sprintf("%s in %s", r.Target, orDash(r.Region))
	}
	name := in.ID
	if in.Name != "" {
		name += " (" + in.Name + ")"
	}
	where := orDash(firstOf(in.PublicIPs))
	return fmt.Sprintf("%s in %s · %s · %s:%d", name, orDash(r.Region), orDash(in.OSName), where, in.LoginPort)
}

// Verdict is the report's conclusion in one sentence.
func (r *Report) Verdict() string {
	var parts []string
	for _, st := range DisplayOrder {
		parts = append(parts, fmt.Sprintf("%d %s", r.Summary.Count(st), st))
	}
	counts := fmt.Sprintf("%s in %d ms", strings.Join(parts, ", "), r.DurationMS)
	if r.LikelyCause != nil {
		f, _ := r.Finding(*r.LikelyCause)
		return fmt.Sprintf("FAIL: likely cause %s: %s. (%s)", f.Check, f.Title, counts)
	}
	if r.Summary.Unknown > 0 || r.Summary.Warn > 0 {
		return fmt.Sprintf("NO FAILURE FOUND, but check the warnings and unknowns. (%s)", counts)
	}
	return fmt.Sprintf("OK: nothing blocks login from the cloud side; check credentials and the client. (%s)", counts)
}

// WriteText writes the report for a terminal: one line per check, what needs
// attention first with its remediation, the skipped checks folded into one
// line per reason, then the verdict and, when no check failed, what to do
// next.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "cvmlogin diagnosis of %s\n\n", r.Heading())
	if s := r.Symptom; s != nil {
		fmt.Fprintf(&b, "You saw %q: %s.\n", s.Text, s.Title)
		if s.Advice != "" {
			fmt.Fprintf(&b, "    → %s\n", s.Advice)
		}
		fmt.Fprintf(&b, "    → %s\n\n", s.DocURL)
	}
	for _, f := range r.symptomOrder() {
		if f.Status == StatusSkipped {
			continue
		}
		fmt.Fprintf(&b, "%s %-26s %s\n", f.Status.Mark(), f.Check, f.Title)
		if f.Status == StatusOK {
			continue
		}
		if f.Detail != "" {
			fmt.Fprintf(&b, "    %s\n", f.Detail)
		}
		if f.Remediation != "" {
			fmt.Fprintf(&b, "    → %s\n", f.Remediation)
		}
		if f.DocURL != "" {
			fmt.Fprintf(&b, "    → %s\n", f.DocURL)
		}
	}
	for _, g := range r.skippedGroups() {
		fmt.Fprintf(&b, "%s %s skipped (%s): %s\n", StatusSkipped.Mark(), plural(len(g.checks), "check"), g.reason, joinIDs(g.checks))
	}
	fmt.Fprintf(&b, "\n%s\n", r.Verdict())
	if r.CauseNotFound() {
		fmt.Fprintf(&b, "If you still cannot log in: %s If that does not help, save this report (--output markdown) and submit a ticket with it: %s\n", RestartReason, TicketURL)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// symptomOrder is ByAttention with the findings that need attention and
// matter most for the user's symptom first.
func (r *Report) symptomOrder() []Finding {
	all := r.ByAttention()
	n := 0
	for n < len(all) && all[n].Status.NeedsAttention() {
		n++
	}
	return append(r.Symptom.FocusFirst(all[:n:n]), all[n:]...)
}

// skippedGroup is the skipped checks that share one root reason.
type skippedGroup struct {
	reason string
	checks []CheckID
}

// skippedGroups folds the skipped findings by the reason at the root of
// their chain ("guest.disk is skipped because guest.agent is skipped
// because instance.state failed" → instance.state's), in report order.
func (r *Report) skippedGroups() []skippedGroup {
	var groups []skippedGroup
	for _, f := range r.Findings {
		if f.Status != StatusSkipped {
			continue
		}
		reason := r.rootSkipReason(f)
		i := slices.IndexFunc(groups, func(g skippedGroup) bool { return g.reason == reason })
		if i < 0 {
			groups, i = append(groups, skippedGroup{reason: reason}), len(groups)
		}
		groups[i].checks = append(groups[i].checks, f.Check)
	}
	return groups
}

// rootSkipReason follows "parent is skipped: …" details up to the first
// reason that is not another skip.
func (r *Report) rootSkipReason(f Finding) string {
	for range len(r.Findings) {
		parent, _, ok := strings.Cut(f.Detail, " "+StatusSkipped.Phrase()+": ")
		if !ok {
			break
		}
		p, found := r.Finding(CheckID(parent))
		if !found || p.Status != StatusSkipped {
			break
		}
		f = p
	}
	if f.Detail == "" {
		return "no reason given"
	}
	return f.Detail
}

func joinIDs(ids []CheckID) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = string(id)
	}
	return strings.Join(names, ", ")
}

// WriteMarkdown writes the report as Markdown that reads as a support
// ticket: the instance, region and time, the verdict, every finding that is
// not ok with what to do, the skipped and passed checks, and the API call
// log with the request IDs Tencent support asks for. When no check failed it
// says so and where to submit the ticket.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Cannot log in to %s: cvmlogin diagnosis\n\n", mdEscape(r.subject()))
	b.WriteString("| | |\n|---|---|\n")
	for _, row := range r.ticketFacts() {
		fmt.Fprintf(&b, "| %s | %s |\n", row[0], mdEscape(row[1]))
	}
	fmt.Fprintf(&b, "\n**Verdict:** %s\n", mdEscape(r.Verdict()))
	if s := r.Symptom; s != nil {
		fmt.Fprintf(&b, "\n**The user saw:** `%s` (%s: %s). %s Docs: %s\n", strings.ReplaceAll(s.Text, "`", "'"), s.Family, mdEscape(s.Title), mdEscape(s.Advice), s.DocURL)
	}
	if r.CauseNotFound() {
		fmt.Fprintf(&b, "\n**Cause not found.** %s If that does not help, submit a ticket (%s) and attach this report.\n", RestartReason, TicketURL)
	}
	b.WriteString("\n## Findings\n\n| | Check | Status | Finding |\n|---|---|---|---|\n")
	for _, f := range r.ByAttention() {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", f.Status.Mark(), f.Check, f.Status, mdEscape(f.Title))
	}
	b.WriteString("\n## Details\n")
	for _, f := range r.ByAttention() {
		if !f.Status.NeedsAttention() {
			continue
		}
		fmt.Fprintf(&b, "\n### %s `%s`: %s\n\n%s\n", f.Status.Mark(), f.Check, mdEscape(f.Title), mdEscape(f.Detail))
		if f.Remediation != "" {
			fmt.Fprintf(&b, "\n**What to do:** %s\n", f.Remediation)
		}
		if f.DocURL != "" {
			fmt.Fprintf(&b, "\nDocs: %s\n", f.DocURL)
		}
	}
	if len(r.APICalls) > 0 {
		b.WriteString("\n## Tencent Cloud API calls\n\n| Service | Action | Region | ms | Attempts | Request ID | Error |\n|---|---|---|---|---|---|---|\n")
		for _, c := range r.APICalls {
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %s | %s |\n", c.Service, c.Action, c.Region, c.DurationMS, c.Attempts, orDash(c.RequestID), orDash(c.ErrorCode))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// subject names the diagnosed instance: "web-1 (ins-…)", or the target as
// typed when none was found.
func (r *Report) subject() string {
	if in := r.Instance; in != nil {
		if in.Name != "" {
			return in.Name + " (" + in.ID + ")"
		}
		return in.ID
	}
	return r.Target
}

// ticketFacts are the rows a support ticket starts with.
func (r *Report) ticketFacts() [][2]string {
	facts := [][2]string{{"Target", r.Target}}
	if in := r.Instance; in != nil {
		facts = append(facts, [2]string{"Instance", in.ID}, [2]string{"OS", orDash(in.OSName)},
			[2]string{"State", orDash(in.State)}, [2]string{"Public IP", orDash(firstOf(in.PublicIPs))},
			[2]string{"Login port", fmt.Sprint(in.LoginPort)}, [2]string{"Security groups", orDash(strings.Join(in.SecurityGroups, ", "))})
	}
	return append(facts, [2]string{"Region", orDash(r.Region)},
		[2]string{"Diagnosed at", r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC")},
		[2]string{"Took", fmt.Sprintf("%d ms", r.DurationMS)})
}

var mdReplacer = strings.NewReplacer("|", "\\|", "\n", " ")

func mdEscape(s string) string { return mdReplacer.Replace(s) }
