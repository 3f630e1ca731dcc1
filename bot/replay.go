package bot

import (
	"context"
	"time"

	"github.com/cvmlogin/cvmlogin/bot/slackio"
)

// replayTTL is how long a verified request's signature is remembered: a
// request is accepted while its timestamp is within slackio.DefaultMaxSkew of the
// clock, either side, so a replay can arrive up to twice that after the
// timestamp it carries.
const replayTTL = 2 * slackio.DefaultMaxSkew

// FirstSeen implements slackio.Handler. A signature is remembered for the
// verification window; a delivery ID, for the hour Slack may redeliver it.
func (b *Bot) FirstSeen(ctx context.Context, kind, id string) (bool, error) {
	ttl := time.Hour
	if kind == slackio.DeliverySignature {
		ttl = replayTTL
	}
	return b.store.FirstSeen(ctx, "delivery:"+kind, id, ttl)
}
