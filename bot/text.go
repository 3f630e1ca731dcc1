package bot

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cvmlogin/cvmlogin/diag"
)

// seeThread ends text cut short in the channel message; the thread has it all.
const seeThread = "… (see thread)"

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escapeMrkdwn escapes the three characters Slack's mrkdwn gives meaning to,
// so that text from a report or a user can never become a mention or a link.
func escapeMrkdwn(s string) string { return mrkdwnEscaper.Replace(s) }

// truncateText returns s if it has at most max characters, or else its start
// followed by suffix, max characters in all, cut at a word boundary when one
// is near the end. It never cuts an HTML entity
// (&amp;) in two, and never returns invalid UTF-8.
func truncateText(s string, max int, suffix string) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	keep := max - utf8.RuneCountInString(suffix)
	if keep <= 0 {
		return firstRunes(suffix, max)
	}
	cut := firstRunes(s, keep)
	if space := strings.LastIndexByte(cut, ' '); space > len(cut)*3/4 {
		cut = cut[:space+1]
	}
	if amp := strings.LastIndexByte(cut, '&'); amp >= 0 && !strings.Contains(cut[amp:], ";") {
		cut = cut[:amp]
	}
	return cut + suffix
}

// firstRunes returns the first n runes of s.
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// firstLine returns s up to its first line break, trimmed.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

// statusEmoji is the Slack emoji shown for a status.
func statusEmoji(s diag.Status) string {
	switch s {
	case diag.StatusOK:
		return ":white_check_mark:"
	case diag.StatusWarn:
		return ":warning:"
	case diag.StatusFail:
		return ":x:"
	case diag.StatusUnknown:
		return ":grey_question:"
	case diag.StatusSkipped:
		return ":heavy_minus_sign:"
	}
	return ":grey_question:"
}

// instanceLabel names the diagnosed instance for people: "name (ins-…)", the
// ID alone, or the target as typed when no instance was found.
func instanceLabel(r *diag.Report) string {
	switch in := r.Instance; {
	case in == nil:
		return r.Target
	case in.Name != "" && in.Name != in.ID:
		return in.Name + " (" + in.ID + ")"
	case in.ID != "":
		return in.ID
	}
	return r.Target
}

// alreadyPast says in English that a fix request has already reached
// status, for a decision that came too late: "This request has already
// succeeded (approved by <@U…>)". by is "" or " by <@U…>", the approver.
func alreadyPast(status diag.FixStatus, by string) string {
	approved := ""
	if by != "" {
		approved = " (approved" + by + ")"
	}
	switch status {
	case diag.FixApproved, diag.FixRejected:
		return "This request was already " + string(status) + by
	case diag.FixExpired:
		return "This request has already expired"
	case diag.FixRunning:
		return "This request is already being applied" + approved
	case diag.FixSucceeded:
		return "This request has already been applied successfully" + approved
	case diag.FixFailed:
		return "This request was already applied and failed" + approved
	}
	return "This request has already been decided" + by
}

// queuedText tells a user their report of target is not coming at once, and
// about when it should (eta): when busy (every worker has a diagnosis), the
// diagnosis waits behind ahead others; else only the report waits, behind
// the channel's earlier messages.
func queuedText(target string, ahead int, busy bool, eta time.Duration) string {
	if !busy {
		return fmt.Sprintf(":hourglass_flowing_sand: The report of %s will be posted in this channel in about %s: messages sent before it go first (Slack takes about one a second).",
			escapeMrkdwn(target), aboutDuration(eta))
	}
	others := "diagnoses"
	if ahead == 1 {
		others = "diagnosis"
	}
	return fmt.Sprintf(":hourglass_flowing_sand: The diagnosis of %s is queued behind %d other %s (many people are asking right now). It should run in about %s; the report will be posted in this channel.",
		escapeMrkdwn(target), ahead, others, aboutDuration(eta))
}

// aboutDuration says an estimate in words: to the nearest 5 seconds under a
// minute (at least 5), else to the nearest minute.
func aboutDuration(d time.Duration) string {
	if d < time.Minute-2500*time.Millisecond {
		return fmt.Sprintf("%d seconds", int(max(d.Round(5*time.Second), 5*time.Second)/time.Second))
	}
	if minutes := int(d.Round(time.Minute) / time.Minute); minutes > 1 {
		return fmt.Sprintf("%d minutes", minutes)
	}
	return "1 minute"
}
