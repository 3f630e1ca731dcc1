// Package slacktest holds test helpers for Slack's request side: the ack
// benchmark shared by the transport's and the bot's benchmarks.
package slacktest

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Signer signs a slash command request sent at timestamp with body, as
// Slack does (the caller knows the scheme and the secret).
type Signer func(req *http.Request, timestamp string, body []byte)

// BenchmarkAcks sends rounds of 200 concurrent signed slash commands, the
// i-th of a round with body(round, i), and reports the p50 and p99 latency
// of their acks.
func BenchmarkAcks(b *testing.B, baseURL string, sign Signer, body func(round, i int) string) {
	const concurrent = 200
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
			form := body(round, i)
			wg.Go(func() {
				start := time.Now()
				if err := postCommand(client, baseURL, form, timestamp, sign); err != nil {
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

func postCommand(client *http.Client, base, body, timestamp string, sign Signer) error {
	req, err := http.NewRequest(http.MethodPost, base+"/slack/commands", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sign(req, timestamp, []byte(body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("slash command answered %s", resp.Status)
	}
	return nil
}

// percentile returns the p-quantile of sorted, by the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func milliseconds(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
