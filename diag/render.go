package diag

import (
	"fmt"
	"io"
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

// statusRank orders findings for display: what needs attention first.
var statusRank = []Status{StatusFail, StatusUnknown, StatusWarn, StatusOK, StatusSkipped}

// ByAttention returns the findings ordered fail, unknown, warn, ok, skipped,
// keeping catalogue order within each status.
func (r *Report) ByAttention() []Finding {
	out := slices.Clone(r.Findings)
	slices.SortStableFunc(out, func(a, b Finding) int {
		return slices.Index(statusRank, a.Status) - slices.Index(statusRank, b.Status)
	})
	return out
}

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
	counts := fmt.Sprintf("%d fail, %d warn, %d ok, %d unknown, %d skipped in %d ms",
		r.Summary.Fail, r.Summary.Warn, r.Summary.OK, r.Summary.Unknown, r.Summary.Skipped, r.DurationMS)
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
// attention first with its remediation, then the verdict.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "cvmlogin diagnosis of %s\n\n", r.Heading())
	for _, f := range r.ByAttention() {
		fmt.Fprintf(&b, "%s %-26s %s\n", f.Status.Mark(), f.Check, f.Title)
		if f.Status == StatusOK {
			continue
		}
		if f.Detail != "" {
			fmt.Fprintf(&b, "    %s\n", f.Detail)
		}
		if f.Remediation != "" && f.Status != StatusSkipped {
			fmt.Fprintf(&b, "    → %s\n", f.Remediation)
		}
		if f.DocURL != "" && f.Status != StatusSkipped {
			fmt.Fprintf(&b, "    → %s\n", f.DocURL)
		}
	}
	fmt.Fprintf(&b, "\n%s\n", r.Verdict())
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the report as Markdown for tickets and exports: a
// summary table, the details of every finding that is not ok, and the API call
// log with request IDs for Tencent support.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# cvmlogin diagnosis: %s\n\n", mdEscape(r.Heading()))
	fmt.Fprintf(&b, "**Verdict:** %s\n\n", mdEscape(r.Verdict()))
	fmt.Fprintf(&b, "Started %s, took %d ms.\n\n", r.StartedAt.Format("2006-01-02 15:04:05 MST"), r.DurationMS)
	b.WriteString("| | Check | Status | Finding |\n|---|---|---|---|\n")
	for _, f := range r.ByAttention() {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", f.Status.Mark(), f.Check, f.Status, mdEscape(f.Title))
	}
	b.WriteString("\n## Details\n")
	for _, f := range r.ByAttention() {
		if f.Status == StatusOK || f.Status == StatusSkipped {
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
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %s | %s |\n", c.Service, c.Action, c.Region, c.DurationMS, c.Attempts, c.RequestID, c.ErrorCode)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var mdReplacer = strings.NewReplacer("|", "\\|", "\n", " ")

func mdEscape(s string) string { return mdReplacer.Replace(s) }
