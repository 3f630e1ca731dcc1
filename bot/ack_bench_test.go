package bot_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/bot/slackio"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
	"github.com/cvmlogin/cvmlogin/internal/slacktest"
)

// BenchmarkBotCommandAck measures what a user waits for: the ack of a signed
// /cvm-login through HTTP mode into the real bot, which claims the instance,
// records the conversation and queues the job in Redis before answering.
// 200 commands for 200 different instances arrive at once each round.
func BenchmarkBotCommandAck(b *testing.B) {
	rdb := redistest.New(b)
	store := conversations.New(rdb, conversations.Options{Prefix: redistest.KeyPrefix(b, rdb)})
	bt := bot.New(nil, store, nil, nil, bot.Options{DefaultRegion: "ap-guangzhou"})
	srv := httptest.NewServer(slackio.NewHTTPServer(bt, slackio.HTTPOptions{Verifier: slackio.Verifier{Secret: signingSecret}, SlackRoutes: true}).Handler())
	defer srv.Close()
	sign := func(req *http.Request, timestamp string, body []byte) {
		req.Header.Set(slackio.HeaderTimestamp, timestamp)
		req.Header.Set(slackio.HeaderSignature, slackio.Sign(signingSecret, timestamp, body))
	}
	slacktest.BenchmarkAcks(b, srv.URL, sign, func(round, i int) string {
		return url.Values{"command": {"/cvm-login"}, "text": {fmt.Sprintf("web-%d-%d", round, i)},
			"user_id": {"U0BENCH"}, "channel_id": {"C0BENCH"}}.Encode()
	})
}
