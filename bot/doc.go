// Package bot is cvmlogin's Slack adapter.
//
// The transports, in package bot/slackio, receive Slack's requests: its
// HTTPServer (HTTP mode: signatures verified on the raw body before anything
// is parsed) and SocketClient (Socket Mode). Both acknowledge within
// milliseconds and hand the request to a slackio.Handler, which Bot
// implements. The compiler keeps the boundary: slackio imports nothing of
// the bot.
//
// Bot turns /cvm-login, @mentions, button presses and the forms (modals)
// they open into conversations and jobs kept in Redis (through the Store it declares), so that any replica can
// run them: a diagnosis job posts the report message, keeps it current while
// checks finish, then publishes the final report with its buttons and the
// details in its thread; a fix job executes an approved fix exactly once and
// re-diagnoses. Approvals, four-eyes and audit live in fixflow.go; the
// forms where a user pastes the error their client showed, in modal.go.
//
// The pure parts need no I/O: request verification (Verifier, ReadVerified),
// command parsing (ParseCommand), Block Kit rendering within Slack's limits
// (RenderReport, ButtonsFor, ValidateBlocks) and the thread texts
// (FindingDetails, CallLog, Diff). Text destined for Slack mrkdwn is escaped
// (&, < and >) wherever it comes from a report, so a cloud resource name can
// never inject a mention or a link.
package bot
