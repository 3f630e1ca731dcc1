package slackfake

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// Limits are Web API rate limits the server enforces once EnforceLimits is
// called, as Slack does: per method for the whole (fake) workspace, and for
// chat.postMessage also per channel. A call over a limit answers HTTP 429
// Too Many Requests with a Retry-After in whole seconds, and has no effect.
type Limits struct {
	// PerMinute is each limited method's calls per minute (its tier);
	// methods not listed are not limited.
	PerMinute map[string]int
	// Burst is how many calls of a method may go at once beyond the steady
	// rate; 0 means a tenth of its PerMinute.
	Burst map[string]int
	// ChannelPostEvery spaces chat.postMessage calls in one channel, which
	// may burst to ChannelPostBurst; 0 leaves channels unlimited.
	ChannelPostEvery time.Duration
	ChannelPostBurst int
}

// SlackLimits are Slack's documented limits of the methods cvmlogin calls:
// chat.update Tier 3 (50 per minute), files, users.info and views.open Tier
// 4 (100), usergroups.users.list Tier 2 (20), conversations.history and
// .replies Tier 3; chat.postMessage about one per second per channel with short
// bursts, several hundred per minute in all.
var SlackLimits = Limits{
	PerMinute: map[string]int{
		"chat.update": 50, "chat.postMessage": 300, "chat.postEphemeral": 100,
		"files.getUploadURLExternal": 100, "files.completeUploadExternal": 100,
		"usergroups.users.list": 20, "users.info": 100, "auth.test": 100,
		"conversations.history": 50, "conversations.replies": 50, "views.open": 100,
	},
	Burst:            map[string]int{"chat.postMessage": 20},
	ChannelPostEvery: time.Second,
	ChannelPostBurst: 3,
}

// limiter holds the buckets of enforced Limits.
type limiter struct {
	limits   Limits
	methods  map[string]*rate.Limiter
	channels map[string]*rate.Limiter
}

// EnforceLimits makes the server answer calls beyond l with 429, from now
// on. Throttled counts them.
func (s *Server) EnforceLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limiter = &limiter{limits: l, methods: map[string]*rate.Limiter{}, channels: map[string]*rate.Limiter{}}
}

// Throttled returns how many calls of method were answered 429 because of
// the enforced limits.
func (s *Server) Throttled(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled[method]
}

// overLimit returns how long the caller of method must wait, or 0 if the
// call may go now, which then counts against the limits.
func (s *Server) overLimit(method string, v url.Values) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limiter == nil {
		return 0
	}
	now := time.Now()
	var buckets []*rate.Limiter
	if b := s.limiter.methodBucket(method); b != nil {
		buckets = append(buckets, b)
	}
	if method == "chat.postMessage" {
		if b := s.limiter.channelBucket(v.Get("channel")); b != nil {
			buckets = append(buckets, b)
		}
	}
	var wait time.Duration
	reservations := make([]*rate.Reservation, 0, len(buckets))
	for _, b := range buckets {
		r := b.ReserveN(now, 1)
		reservations = append(reservations, r)
		wait = max(wait, r.DelayFrom(now))
	}
	if wait == 0 {
		return 0
	}
	for _, r := range reservations {
		r.CancelAt(now)
	}
	s.throttled[method]++
	return wait
}

func (l *limiter) methodBucket(method string) *rate.Limiter {
	perMinute := l.limits.PerMinute[method]
	if perMinute <= 0 {
		return nil
	}
	b, ok := l.methods[method]
	if !ok {
		burst := l.limits.Burst[method]
		if burst <= 0 {
			burst = max(perMinute/10, 1)
		}
		b = rate.NewLimiter(rate.Limit(float64(perMinute)/60), burst)
		l.methods[method] = b
	}
	return b
}

func (l *limiter) channelBucket(channel string) *rate.Limiter {
	if l.limits.ChannelPostEvery <= 0 {
		return nil
	}
	b, ok := l.channels[channel]
	if !ok {
		b = rate.NewLimiter(rate.Every(l.limits.ChannelPostEvery), max(l.limits.ChannelPostBurst, 1))
		l.channels[channel] = b
	}
	return b
}

// writeRateLimited answers 429 with a Retry-After of wait, in whole seconds
// rounded up, as Slack does.
func writeRateLimited(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(wait.Seconds())), 1)))
	http.Error(w, "rate limited", http.StatusTooManyRequests)
}
