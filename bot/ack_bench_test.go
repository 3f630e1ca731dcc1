package bot

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
)

// BenchmarkBotCommandAck measures what a user waits for: the ack of a signed
// /cvm-login through HTTP mode into the real bot, which claims the instance,
// records the conversation and queues the job in Redis before answering.
// 200 commands for 200 different instances arrive at once each round.
func BenchmarkBotCommandAck(b *testing.B) {
	const concurrent = 200
	rdb := redistest.New(b)
	store := conversations.New(rdb, conversations.Options{Prefix: redistest.KeyPrefix(b, rdb)})
	bot := New(nil, store, nil, nil, Options{DefaultRegion: "ap-guangzhou"})
	srv := httptest.NewServer(NewHTTPServer(bot, HTTPOptions{Verifier: Verifier{Secret: testSigningSecret}, SlackRoutes: true}).Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrent}}
	defer client.CloseIdleConnections()

	var latencies []time.Duration
	round := 0
	for b.Loop() {
		round++
		timestamp := strconv.FormatInt(time.Now().Unix(), 10)
		took := make([]time.Duration, concurrent)
		var wg sync.WaitGroup
		for i := range took {
			body := url.Values{"command": {"/cvm-login"}, "text": {fmt.Sprintf("web-%d-%d", round, i)},
				"user_id": {"U0BENCH"}, "channel_id": {"C0BENCH"}}.Encode()
			signature := Sign(testSigningSecret, timestamp, []byte(body))
			wg.Go(func() {
				start := time.Now()
				if err := postCommand(client, srv.URL, body, timestamp, signature); err != nil {
					b.Error(err)
				}
				took[i] = time.Since(start)
			})
		}
		wg.Wait()
		latencies = append(latencies, took...)
	}
	slices.Sort(latencies)
	b.ReportMetric(milliseconds(percentile(latencies, 0.50)), "p50-ms")
	b.ReportMetric(milliseconds(percentile(latencies, 0.99)), "p99-ms")
}
