package bot

import (
	"context"

	"github.com/slack-go/slack"
)

// Handler is the bot as the transports see it: what to do with each verified
// inbound Slack request. Its methods return within milliseconds (they only
// touch the state store and enqueue work) and are safe for concurrent use.
type Handler interface {
	// Command handles a /cvm-login invocation. The reply, if any, is shown
	// only to the invoking user, in the acknowledgement itself.
	Command(ctx context.Context, cmd slack.SlashCommand) Reply
	// Mention handles an app_mention event.
	Mention(ctx context.Context, m Mention)
	// Action handles a block_actions interaction (a button press). Replies
	// go to the user as ephemeral messages through the Web API.
	Action(ctx context.Context, cb slack.InteractionCallback)
	// FirstSeen reports whether a delivery (kind "event" with an event_id,
	// "envelope" with a Socket Mode envelope_id) is new. false means it is a
	// retry of something already handled and must be dropped.
	FirstSeen(ctx context.Context, kind, id string) (bool, error)
	// Ready reports why the bot cannot work, or nil (state store reachable,
	// Slack credentials accepted).
	Ready(ctx context.Context) error
}

// Reply is an immediate answer to a slash command, shown only to the user
// who typed it. The zero Reply acknowledges without a message.
type Reply struct {
	Text string // mrkdwn
}

// Mention is an app_mention event, reduced to what the bot uses.
type Mention struct {
	EventID  string
	Channel  string
	User     string
	Text     string // includes the <@BOT> mention
	TS       string // the mentioning message
	ThreadTS string // the thread it was posted in, "" at top level
}
