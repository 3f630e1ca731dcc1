package bot

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/cvmlogin/cvmlogin/diag"
)

// maxThreadText bounds every thread message, so that each fits a message's
// text and a section block alike.
const maxThreadText = maxSectionText

// Budgets of one finding's thread entry, in characters. With the title,
// remediation and doc link budgets of the report message they leave room for
// evidence within maxThreadText.
const (
	maxThreadDetailLen  = 800
	maxEvidenceValueLen = 300
	minEvidenceBlockLen = 60
)

const codeFence = "```"

// statusMissing is Diff's status for a check absent from a report.
const statusMissing diag.Status = "missing"

// FindingDetails returns the thread messages that detail every finding of r:
// those needing attention first (fail, unknown, warn), then ok, then skipped.
// Each finding gives its check ID, status and severity, title, detail,
// remediation, and its evidence as "key: value" lines in a code block. Entries
// are packed into as few messages as fit: each string is mrkdwn of at most
// 3000 characters.
func FindingDetails(r *diag.Report) []string {
	if r == nil {
		return nil
	}
	findings := r.ByAttention()
	entries := make([]string, len(findings))
	for i, f := range findings {
		entries[i] = findingEntry(f)
	}
	return packMessages(entries, "\n\n")
}

// findingEntry is one finding's thread text, at most maxThreadText
// characters.
func findingEntry(f diag.Finding) string {
	head := fmt.Sprintf("%s *%s* · %s", statusEmoji(f.Status), clip(string(f.Check), maxTitleLen), clip(string(f.Status), maxTitleLen))
	if f.Severity != "" {
		head += " · " + clip(string(f.Severity), maxTitleLen)
	}
	if f.Title != "" {
		head += "\n*" + clip(f.Title, maxTitleLen) + "*"
	}
	if detail := strings.TrimSpace(f.Detail); detail != "" {
		head += "\n" + clip(detail, maxThreadDetailLen)
	}
	remedy := clip(strings.TrimSpace(f.Remediation), maxRemediationLen)
	switch {
	case remedy != "":
		head += "\n*Fix:* " + joinParts(remedy, docLink(f.DocURL))
	case f.DocURL != "":
		head += "\n*Docs:* " + docLink(f.DocURL)
	}
	room := maxThreadText - utf8.RuneCountInString(head) - utf8.RuneCountInString("\n"+codeFence+"\n\n"+codeFence)
	if len(f.Evidence) == 0 || room < minEvidenceBlockLen {
		return head
	}
	return head + "\n" + codeFence + "\n" + evidenceLines(f.Evidence, room) + "\n" + codeFence
}

// evidenceLines renders evidence as sorted "key: value" lines of at most room
// characters in all, saying how many lines did not fit.
func evidenceLines(evidence map[string]any, room int) string {
	keys := slices.Sorted(maps.Keys(evidence))
	more := func(n int) string { return fmt.Sprintf("… (%d more)", n) }
	var lines []string
	used := 0
	for i, k := range keys {
		line := clipCode(k+": "+evidenceValue(evidence[k]), maxEvidenceValueLen)
		need := used + utf8.RuneCountInString(line)
		if left := len(keys) - i - 1; left > 0 {
			need += 1 + utf8.RuneCountInString(more(left)) // keep room to say what did not fit
		}
		if need > room {
			lines = append(lines, more(len(keys)-i))
			break
		}
		lines = append(lines, line)
		used += utf8.RuneCountInString(line) + 1
	}
	return strings.Join(lines, "\n")
}

// clipCode escapes s for a mrkdwn code block, which it must not close, and
// truncates it to max characters.
func clipCode(s string, max int) string {
	return truncateText(strings.ReplaceAll(escapeMrkdwn(s), codeFence, "'''"), max, "…")
}

// evidenceValue renders one evidence value on one line: strings as they are
// (line breaks shown as ⏎), numbers without needless decimals, lists of
// numbers comma-separated, anything else as compact JSON.
func evidenceValue(v any) string {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(strings.TrimSpace(v), "\n", " ⏎ ")
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []float64:
		return joinNumbers(v)
	case []any:
		if numbers := evidenceValues(map[string]any{evidenceValuesKey: v}); len(numbers) == len(v) && len(v) > 0 {
			return joinNumbers(numbers)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func joinNumbers(values []float64) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strings.Join(parts, ", ")
}

// packMessages joins entries with sep into as few messages of at most
// maxThreadText characters as possible, keeping their order. Each entry must
// itself fit.
func packMessages(entries []string, sep string) []string {
	var messages []string
	current := ""
	for _, e := range entries {
		if current != "" && utf8.RuneCountInString(current)+utf8.RuneCountInString(sep+e) > maxThreadText {
			messages = append(messages, current)
			current = ""
		}
		if current != "" {
			current += sep
		}
		current += e
	}
	if current != "" {
		messages = append(messages, current)
	}
	return messages
}

// CallLog returns the thread message listing every cloud API call of r: a
// heading and a code-block table of service, action, region, duration in
// milliseconds, attempts, request ID and error code, at most 3000 characters
// (rows that do not fit are counted, not shown).
func CallLog(r *diag.Report) string {
	if r == nil || len(r.APICalls) == 0 {
		return "*Cloud API calls:* none were made."
	}
	failed := 0
	for _, c := range r.APICalls {
		if c.ErrorCode != "" {
			failed++
		}
	}
	heading := fmt.Sprintf("*Cloud API calls:* %d", len(r.APICalls))
	if failed > 0 {
		heading += fmt.Sprintf(", %d failed", failed)
	}
	rows := callRows(r.APICalls)
	for shown := len(rows); shown > 0; shown-- {
		text := heading + "\n" + codeFence + "\n" + rows[0] // the column headings
		text += strings.Join(rows[1:shown], "")
		if hidden := len(rows) - shown; hidden > 0 {
			text += fmt.Sprintf("… %d more calls not shown\n", hidden)
		}
		text += codeFence
		if utf8.RuneCountInString(text) <= maxThreadText {
			return text
		}
	}
	return heading
}

// callRows returns the call table's lines, column headings first, each ending
// in a newline and escaped for a mrkdwn code block.
func callRows(calls []diag.APICall) []string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tACTION\tREGION\tMS\tTRIES\tREQUEST ID\tERROR")
	for _, c := range calls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n",
			cell(c.Service), cell(c.Action), cell(c.Region), c.DurationMS, c.Attempts, cell(c.RequestID), cell(c.ErrorCode))
	}
	tw.Flush()
	lines := strings.SplitAfter(b.String(), "\n")
	return lines[:len(lines)-1] // SplitAfter leaves an empty string after the last newline
}

// maxCellLen bounds one call-table cell.
const maxCellLen = 60

func cell(s string) string {
	if s == "" {
		return "-"
	}
	return clipCode(strings.Join(strings.Fields(s), " "), maxCellLen)
}

// Diff returns one line per check whose status differs between before and
// after, such as "security_group.login_port: fail → ok", in catalogue order
// and then by check ID for checks outside the catalogue. A check absent from
// one report has status "missing". It returns nil when nothing changed; a
// nil report has no findings.
func Diff(before, after *diag.Report) []string {
	was, now := statusesOf(before), statusesOf(after)
	var lines []string
	for _, id := range diffOrder(was, now) {
		from, to := statusOr(was, id), statusOr(now, id)
		if from != to {
			lines = append(lines, fmt.Sprintf("%s: %s → %s", id, from, to))
		}
	}
	return lines
}

func statusesOf(r *diag.Report) map[diag.CheckID]diag.Status {
	statuses := map[diag.CheckID]diag.Status{}
	if r != nil {
		for _, f := range r.Findings {
			statuses[f.Check] = f.Status
		}
	}
	return statuses
}

func statusOr(statuses map[diag.CheckID]diag.Status, id diag.CheckID) diag.Status {
	if s, ok := statuses[id]; ok {
		return s
	}
	return statusMissing
}

// diffOrder lists the catalogue, then every other check of either report,
// sorted.
func diffOrder(reports ...map[diag.CheckID]diag.Status) []diag.CheckID {
	var extra []diag.CheckID
	for _, statuses := range reports {
		for id := range statuses {
			if !slices.Contains(diag.CheckIDs, id) && !slices.Contains(extra, id) {
				extra = append(extra, id)
			}
		}
	}
	slices.Sort(extra)
	return append(slices.Clone(diag.CheckIDs), extra...)
}
