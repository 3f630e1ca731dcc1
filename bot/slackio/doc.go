// Package slackio is cvmlogin's Slack transport: it receives Slack's slash
// commands, interactions and events over HTTP (HTTPServer, every request's
// v0 signature verified on the raw body, replays refused) or Socket Mode
// (SocketClient), acknowledges each within Slack's deadline, and hands it to
// a Handler on a bounded pool of goroutines. It knows nothing of what the
// bot does with them; package bot implements Handler.
package slackio
