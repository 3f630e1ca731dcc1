// Package bot is cvmlogin's Slack adapter.
//
// This part of the package is pure: it verifies Slack request signatures
// (Verifier, ReadVerified), parses what users type after /cvm-login or an
// @mention (ParseCommand), renders a diagnosis report as a Block Kit message
// (RenderReport, ButtonsFor, ReportFallbackText) within Slack's limits
// (ValidateBlocks), and writes the thread messages that carry the details
// (FindingDetails, CallLog, Diff). None of it does I/O; the transports that
// receive Slack requests and post messages call it.
//
// Text destined for Slack mrkdwn is escaped (&, < and >) wherever it comes from
// a report, so a cloud resource name can never inject a mention or a link.
package bot
