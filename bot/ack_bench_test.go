package bot

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
)

// BenchmarkBotCommandAck measures what a user waits for: the ack of a signed
// /cvm-login through HTTP mode into the real bot, which claims the instance,
// records the conversation and queues the job in Redis before answering.
// 200 commands for 200 different instances arrive at once each round.
func BenchmarkBotCommandAck(b *testing.B) {
	rdb := redistest.New(b)
	store := conversations.New(rdb, conversations.Options{Prefix: redistest.KeyPrefix(b, rdb)})
	bot := New(nil, store, nil, nil, Options{DefaultRegion: "ap-guangzhou"})
	srv := httptest.NewServer(NewHTTPServer(bot, HTTPOptions{Verifier: Verifier{Secret: testSigningSecret}, SlackRoutes: true}).Handler())
	defer srv.Close()
	benchmarkAcks(b, srv.URL, func(round, i int) string {
		return url.Values{"command": {"/cvm-login"}, "text": {fmt.Sprintf("web-%d-%d", round, i)},
			"user_id": {"U0BENCH"}, "channel_id": {"C0BENCH"}}.Encode()
	})
}
