package bot

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/diag"
)

// ReportView is what the report message shows: a report, finished or still
// running, and the buttons it offers.
type ReportView struct {
	Report *diag.Report
	// Requester is the Slack user ID of whoever asked for the diagnosis.
	Requester string
	// Final is false while checks are still running.
	Final bool
	// Pending lists the checks not finished yet, when !Final.
	Pending []diag.CheckID
	// Buttons maps an action ID to the opaque value its button carries; only
	// actions present here get a button, and only in the final view.
	Buttons map[string]string
	// Previous is the conversation's report before this one, for a
	// re-diagnosis; nil otherwise.
	Previous *diag.Report
	// Note is an optional context line in mrkdwn, e.g. "Re-diagnosis after
	// opening port 22, approved by <@U…>". The caller escapes any text in it
	// that comes from users or reports.
	Note string
}

// The block IDs of the report message. Findings use "finding.<check id>".
const (
	blockHeader   = "report.header"
	blockContext  = "report.context"
	blockNote     = "report.note"
	blockProgress = "report.progress"
	blockVerdict  = "report.verdict"
	blockSymptom  = "report.symptom"
	blockMore     = "report.more"
	blockPassed   = "report.passed"
	blockMetrics  = "report.metrics"
	blockFooter   = "report.footer"
	blockActions  = "report.actions"
)

// Budgets of the report message's parts, in characters, chosen so that a
// finding's section stays below maxSectionText whatever the report holds.
const (
	maxTitleLen       = 200
	maxDetailLen      = 500
	maxRemediationLen = 1000
	maxDocURLLen      = 1000
	maxNoteLen        = 500
	maxListedTitles   = 20
)

// maxFindingSections leaves room, within maxBlocks, for the blocks every
// final report has.
const maxFindingSections = maxBlocks - 10

// RenderReport renders the report message of v as Block Kit blocks within
// Slack's limits (see ValidateBlocks). While checks run (!v.Final) it shows
// progress and no buttons; the final view shows the verdict, one section per
// finding that needs attention, the passed and skipped checks on one line,
// metric sparklines, and the buttons of v.Buttons. It returns nil when
// v.Report is nil.
func RenderReport(v ReportView) []slack.Block {
	if v.Report == nil {
		return nil
	}
	if !v.Final {
		return renderProgress(v)
	}
	return renderFinal(v)
}

func renderProgress(v ReportView) []slack.Block {
	r := v.Report
	blocks := []slack.Block{
		headerBlock("Diagnosing " + instanceLabel(r)),
		contextBlock(blockContext, progressContext(r.Region, v.Requester)),
	}
	blocks = appendNote(blocks, v.Note)
	return append(blocks, sectionBlock(blockProgress, progressText(r, v.Pending)))
}

// progressText is the body of the in-progress view: how far the diagnosis
// got, what it found wrong so far and what it is waiting for.
func progressText(r *diag.Report, pending []diag.CheckID) string {
	done := 0
	var lines []string
	for _, f := range r.Findings {
		if slices.Contains(pending, f.Check) {
			continue
		}
		done++
		if f.Status.NeedsAttention() && len(lines) < maxListedTitles {
			lines = append(lines, statusEmoji(f.Status)+" *"+clip(findingTitle(f), maxTitleLen)+"*")
		}
	}
	text := fmt.Sprintf(":hourglass_flowing_sand: *%d of %d checks done*", done, len(diag.CheckIDs))
	if len(lines) > 0 {
		text += "\n" + strings.Join(lines, "\n")
	}
	if len(pending) > 0 {
		text += "\nWaiting for: " + escapeMrkdwn(joinChecks(pending))
	}
	return text
}

func renderFinal(v ReportView) []slack.Block {
	r := v.Report
	blocks := []slack.Block{
		headerBlock(instanceLabel(r)),
		contextBlock(blockContext, instanceFacts(r)),
	}
	blocks = appendNote(blocks, v.Note)
	blocks = append(blocks, sectionBlock(blockVerdict, verdict(r)+stillFailing(v.Previous, r)))
	if r.Symptom != nil {
		blocks = append(blocks, sectionBlock(blockSymptom, symptomText(r.Symptom)))
	}
	blocks = append(blocks, findingBlocks(r)...)
	if passed := passedLine(r); passed != "" {
		blocks = append(blocks, contextBlock(blockPassed, passed))
	}
	if lines := metricLines(r); len(lines) > 0 {
		blocks = append(blocks, contextBlock(blockMetrics, lines...))
	}
	blocks = append(blocks, contextBlock(blockFooter, footer(r, v.Requester)))
	if buttons := actionButtons(r, v.Buttons); len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock(blockActions, buttons...))
	}
	return blocks
}

// instanceFacts is the context line under the header: region, OS, public IP,
// login port, and the state when it is not RUNNING.
func instanceFacts(r *diag.Report) string {
	in := r.Instance
	if in == nil {
		return joinParts("Region *"+escapeMrkdwn(r.Region)+"*", "instance not found")
	}
	state := ""
	if in.State != "" && in.State != "RUNNING" {
		state = "state *" + escapeMrkdwn(in.State) + "*"
	}
	ip := ""
	if len(in.PublicIPs) > 0 {
		ip = "public IP " + escapeMrkdwn(in.PublicIPs[0])
	}
	port := ""
	if in.LoginPort != 0 {
		port = fmt.Sprintf("login port %d", in.LoginPort)
	}
	return joinParts("Region *"+escapeMrkdwn(r.Region)+"*", escapeMrkdwn(in.OSName), ip, port, state)
}

// verdict is the report's conclusion: one line, and when no check failed
// what to do next.
func verdict(r *diag.Report) string {
	if r.LikelyCause != nil {
		return ":rotating_light: *Likely cause:* " + escapeMrkdwn(likelyCauseTitle(r))
	}
	s := r.Summary
	text := ":warning: *Summary:* " + countsText(s) + "."
	if s.Fail == 0 && s.Warn == 0 {
		text = ":white_check_mark: *No problem found:* " + countsText(s) + "."
		if s.Unknown > 0 {
			text += " Some checks could not tell; see below."
		}
		text += " " + stillCannotLogIn(r.Symptom)
	}
	return text + nextSteps(r)
}

// outcomeText is the report's outcome in a few plain words, for a message
// that cannot carry the report itself: the likely cause, or the counts.
func outcomeText(r *diag.Report) string {
	if r.LikelyCause != nil {
		return "likely cause " + likelyCauseTitle(r)
	}
	if r.Summary.Fail == 0 && r.Summary.Warn == 0 {
		return "no problem found, " + countsText(r.Summary)
	}
	return countsText(r.Summary)
}

// stillCannotLogIn is what to check when no check failed: the advice for
// the error the user saw, when there is some, else the usual suspects.
func stillCannotLogIn(s *diag.Symptom) string {
	if s != nil && s.Advice != "" {
		return "The error you saw is explained below, with what to try on your side."
	}
	return "If you still cannot log in, check the user name, key or password, and your own network."
}

// stillFailing is the escalation of a re-diagnosis whose likely cause is
// the one before it (a fix did not help): export and submit a ticket. It is
// "" otherwise.
func stillFailing(previous, r *diag.Report) string {
	if previous == nil || previous.LikelyCause == nil || r.LikelyCause == nil || *previous.LikelyCause != *r.LikelyCause {
		return ""
	}
	return "\n:arrows_counterclockwise: *Still the likely cause after re-diagnosis.* If a fix did not help, press *" + diag.LabelExport +
		"* and <" + diag.TicketURL + "|submit a ticket> with the exported report."
}

// nextSteps is the guide's fallback when the cause was not found: restart
// and try again, then a ticket with the exported report. It is "" when a
// check failed or the instance was not found.
func nextSteps(r *diag.Report) string {
	if !r.CauseNotFound() {
		return ""
	}
	text := "\n:arrows_counterclockwise: *Cause not found.* "
	if slices.Contains(r.FallbackFixes(), diag.FixRestartInstance) {
		text += escapeMrkdwn(strings.TrimSuffix(diag.RestartReason, ".")) + ": press *" + diag.FixRestartInstance.Label(0) + "* (it asks for approval). "
	}
	return text + "If that does not help, press *" + diag.LabelExport + "* and <" + diag.TicketURL + "|submit a ticket> with the exported report."
}

func likelyCauseTitle(r *diag.Report) string {
	if f, ok := r.Finding(*r.LikelyCause); ok {
		return findingTitle(f)
	}
	return string(*r.LikelyCause)
}

// countLabels are the words countsText gives each status.
var countLabels = map[diag.Status]string{diag.StatusFail: "failed", diag.StatusUnknown: "unknown", diag.StatusWarn: "warning", diag.StatusOK: "ok", diag.StatusSkipped: "skipped"}

// countsText says how many findings have each status, in display order:
// "1 failed, 11 ok, 4 skipped".
func countsText(s diag.Summary) string {
	var parts []string
	for _, st := range diag.DisplayOrder {
		if n := s.Count(st); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, countLabels[st]))
		}
	}
	if len(parts) == 0 {
		return "no checks ran"
	}
	return strings.Join(parts, ", ")
}

// attentionFindings returns the findings shown on their own: fail, then
// unknown, then warn, each in report order.
func attentionFindings(r *diag.Report) []diag.Finding {
	return slices.DeleteFunc(r.ByAttention(), func(f diag.Finding) bool { return !f.Status.NeedsAttention() })
}

// symptomText says what the error the user saw means, what to try on their
// side, and where Tencent documents it.
func symptomText(s *diag.Symptom) string {
	quoted := truncateText(escapeMrkdwn(strings.ReplaceAll(s.Text, "`", "'")), maxSymptomLen, "…") // the thread does not repeat it
	text := fmt.Sprintf(":speech_balloon: *You saw* `%s`: %s.", quoted, escapeMrkdwn(s.Title))
	if s.Advice != "" {
		text += " " + escapeMrkdwn(s.Advice)
	}
	if link := docLink(s.DocURL); link != "" {
		text += " " + link
	}
	return text
}

// maxSymptomLen bounds the quoted error message in the report.
const maxSymptomLen = 300

// findingBlocks are the sections of the findings that need attention, the
// checks that matter most for the user's symptom first.
func findingBlocks(r *diag.Report) []slack.Block {
	findings := r.Symptom.FocusFirst(attentionFindings(r))
	var blocks []slack.Block
	for i, f := range findings {
		if i == maxFindingSections {
			more := fmt.Sprintf("… and %d more findings (see thread)", len(findings)-i)
			return append(blocks, contextBlock(blockMore, more))
		}
		blocks = append(blocks, sectionBlock("finding."+string(f.Check), findingText(f)))
	}
	return blocks
}

// findingText is one finding's section: status, title and check ID, the
// first line of its detail, and the remediation with its doc link.
func findingText(f diag.Finding) string {
	text := fmt.Sprintf("%s *%s* · `%s`", statusEmoji(f.Status), clip(findingTitle(f), maxTitleLen), clip(string(f.Check), maxTitleLen))
	if f.Severity != "" {
		text += " · " + clip(string(f.Severity), maxTitleLen)
	}
	if detail := firstLine(f.Detail); detail != "" {
		text += "\n" + clip(detail, maxDetailLen)
	}
	remedy := clip(strings.TrimSpace(f.Remediation), maxRemediationLen)
	if link := docLink(f.DocURL); link != "" {
		remedy = joinParts(remedy, link)
	}
	if remedy != "" {
		text += "\n*Fix:* " + remedy
	}
	return text
}

// clip escapes s for mrkdwn and truncates it to max characters.
func clip(s string, max int) string {
	return truncateText(escapeMrkdwn(s), max, seeThread)
}

func findingTitle(f diag.Finding) string {
	if f.Title != "" {
		return f.Title
	}
	return string(f.Check)
}

// docLink returns a mrkdwn link to url labelled "Tencent docs", or "" when
// url is not a plain http(s) URL that fits in a link.
func docLink(url string) string {
	if !(strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://")) ||
		len(url) > maxDocURLLen || strings.ContainsAny(url, "|<> \t\r\n") {
		return ""
	}
	return "<" + strings.ReplaceAll(url, "&", "&amp;") + "|Tencent docs>"
}

// passedLine folds the ok and skipped checks into one line: ":white_check_mark:
// 11 ok: instance.state, … · :heavy_minus_sign: 2 skipped: guest.disk, …".
func passedLine(r *diag.Report) string {
	var ok, skipped []diag.CheckID
	for _, f := range r.Findings {
		switch f.Status {
		case diag.StatusOK:
			ok = append(ok, f.Check)
		case diag.StatusSkipped:
			skipped = append(skipped, f.Check)
		}
	}
	var parts []string
	if len(ok) > 0 {
		parts = append(parts, fmt.Sprintf("%s %d ok: %s", statusEmoji(diag.StatusOK), len(ok), escapeMrkdwn(joinChecks(ok))))
	}
	if len(skipped) > 0 {
		parts = append(parts, fmt.Sprintf("%s %d skipped: %s", statusEmoji(diag.StatusSkipped), len(skipped), escapeMrkdwn(joinChecks(skipped))))
	}
	return joinParts(parts...)
}

func joinChecks(ids []diag.CheckID) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = string(id)
	}
	return strings.Join(names, ", ")
}

func footer(r *diag.Report, requester string) string {
	requested := ""
	if m := mention(requester); m != "" {
		requested = "requested by " + m
	}
	return joinParts(fmt.Sprintf("Diagnosed in %d ms", r.DurationMS), requested, "details in thread")
}

// slackUserID matches the Slack user IDs a mention may carry.
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{1,31}$`)

// mention returns "<@U…>" for a Slack user ID, or "" for anything else.
func mention(userID string) string {
	if !slackUserID.MatchString(userID) {
		return ""
	}
	return "<@" + userID + ">"
}

// progressContext is the in-progress view's context line: "in ap-guangzhou
// for <@U…>".
func progressContext(region, requester string) string {
	text := "in *" + escapeMrkdwn(region) + "*"
	if m := mention(requester); m != "" {
		text += " for " + m
	}
	return text
}

// joinParts joins the non-empty parts with " · ".
func joinParts(parts ...string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), " · ")
}

func appendNote(blocks []slack.Block, note string) []slack.Block {
	if note = strings.TrimSpace(note); note == "" {
		return blocks
	}
	return append(blocks, contextBlock(blockNote, truncateText(note, maxNoteLen, seeThread)))
}

// ReportFallbackText returns the notification text of the report message
// (chat.postMessage's text): the instance and the verdict in one line, as
// escaped mrkdwn of at most 300 characters.
func ReportFallbackText(r *diag.Report) string {
	if r == nil {
		return ""
	}
	var outcome string
	switch s := r.Summary; {
	case r.LikelyCause != nil:
		outcome = "likely cause: " + likelyCauseTitle(r)
	case s.Fail == 0 && s.Warn == 0:
		outcome = "no problem found (" + countsText(s) + ")"
	default:
		outcome = countsText(s)
	}
	return truncateText(escapeMrkdwn(instanceLabel(r)+": "+outcome), maxFallbackText, "…")
}

// ProgressFallbackText returns the notification text of the report message
// while checks are still running: "Diagnosing web-1 (ins-…)…", escaped.
func ProgressFallbackText(r *diag.Report) string {
	if r == nil {
		return ""
	}
	return truncateText(escapeMrkdwn("Diagnosing "+instanceLabel(r)+"…"), maxFallbackText, "…")
}

// maxFallbackText bounds the fallback texts; notifications show little more.
const maxFallbackText = 300

func plainText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

func mrkdwnText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func headerBlock(text string) slack.Block {
	return slack.NewHeaderBlock(plainText(truncateText(text, maxHeaderText, "…")), slack.HeaderBlockOptionBlockID(blockHeader))
}

func sectionBlock(id, text string) slack.Block {
	return slack.NewSectionBlock(mrkdwnText(truncateText(text, maxSectionText, seeThread)), nil, nil, slack.SectionBlockOptionBlockID(id))
}

// contextBlock returns a context block with one mrkdwn element per text.
func contextBlock(id string, texts ...string) slack.Block {
	elements := make([]slack.MixedElement, 0, len(texts))
	for _, t := range texts[:min(len(texts), maxContextElements)] {
		elements = append(elements, mrkdwnText(truncateText(t, maxContextText, seeThread)))
	}
	return slack.NewContextBlock(id, elements...)
}
