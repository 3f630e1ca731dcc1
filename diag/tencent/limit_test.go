package tencent

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/pause"
)

func TestBudgets(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]int
		want      map[string]int // checked entries
		wantErr   string
	}{
		{"defaults are half the documented limits", nil,
			map[string]int{"DescribeInstances": 20, "RebootInstances": 5, "DescribeSecurityGroupPolicies": 50, "GetMonitorData": 10}, ""},
		{"an override replaces one default, in any case", map[string]int{"getmonitordata": 3},
			map[string]int{"GetMonitorData": 3, "DescribeInstances": 20}, ""},
		{"an unknown action is refused", map[string]int{"DescribeEverything": 3}, nil, "unknown actions DescribeEverything"},
		{"a budget below 1 is refused", map[string]int{"DescribeInstances": 0}, nil, "want at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Budgets(tt.overrides)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Budgets = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(actions) {
				t.Fatalf("Budgets = %d budgets, %v; want %d, nil", len(got), err, len(actions))
			}
			for name, rps := range tt.want {
				if got[name] != rps {
					t.Errorf("%s: %d/s, want %d/s", name, got[name], rps)
				}
			}
		})
	}
}

// recordingLimiter grants or refuses every call and records what it was
// asked for.
type recordingLimiter struct {
	mu     sync.Mutex
	asked  []string // "account action"
	refuse bool
}

func (l *recordingLimiter) Wait(_ context.Context, account, action string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, account+" "+action)
	if l.refuse {
		return errors.New("no slot before the deadline")
	}
	return nil
}

func TestCallsWaitForTheConfiguredLimiterByAccount(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeAccountBalance", success(`"RealBalance":100`))
	lim := &recordingLimiter{}
	c := newTestClient(t, f, nil, func(cfg *Config) { cfg.Limiter = lim })

	if _, err := c.AccountBalance(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := accountKey(testSecretID) + " DescribeAccountBalance"
	if len(lim.asked) != 1 || lim.asked[0] != want {
		t.Errorf("the limiter was asked %q, want [%q]", lim.asked, want)
	}
	if strings.Contains(lim.asked[0], testSecretID) {
		t.Errorf("the limiter key %q holds the secret ID", lim.asked[0])
	}
}

func TestALimiterRefusalIsThrottlingAndSendsNothing(t *testing.T) {
	f := newFakeCloud(t)
	c := newTestClient(t, f, nil, func(cfg *Config) { cfg.Limiter = &recordingLimiter{refuse: true} })

	_, err := c.AccountBalance(context.Background())
	if diag.KindOf(err) != diag.KindThrottled {
		t.Errorf("error %v, want KindThrottled", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("sent %d requests, want none", n)
	}
}

func TestThrottlingIsRetriedForAsLongAsTheDeadlineAllows(t *testing.T) {
	throttled := failure("RequestLimitExceeded.UinLimitExceeded", "slow down")
	t.Run("throttling that ends in time succeeds", func(t *testing.T) {
		f := newFakeCloud(t)
		f.on("DescribeAccountBalance", throttled, throttled, throttled, throttled, throttled, throttled, success(`"RealBalance":100`))
		c := newTestClient(t, f, nil, nil)
		if _, err := c.AccountBalance(context.Background()); err != nil {
			t.Fatalf("AccountBalance: %v, want success after 6 throttled attempts", err)
		}
		if n := len(f.requests()); n != 7 {
			t.Errorf("sent %d requests, want 7", n)
		}
	})
	t.Run("throttling until the deadline is KindThrottled", func(t *testing.T) {
		f := newFakeCloud(t)
		f.on("DescribeAccountBalance", throttled)
		c := newTestClient(t, f, nil, func(cfg *Config) { cfg.Timeout = 600 * time.Millisecond })
		ctx, calls := withCallLog()
		_, err := c.AccountBalance(ctx)
		if diag.KindOf(err) != diag.KindThrottled {
			t.Errorf("error %v (kind %q), want KindThrottled", err, diag.KindOf(err))
		}
		if n := len(f.requests()); n <= 1+DefaultMaxRetries {
			t.Errorf("sent %d requests, want more than %d: throttling is retried until the deadline", n, 1+DefaultMaxRetries)
		}
		if log := calls.Calls(); len(log) != 1 || log[0].ErrorCode != "RequestLimitExceeded.UinLimitExceeded" {
			t.Errorf("call log %+v, want one throttled call", log)
		}
	})
}

// slowLimiter grants every call after delay, or refuses it at once when
// ctx's deadline comes first, as the real limiters do.
type slowLimiter struct{ delay time.Duration }

func (l slowLimiter) Wait(ctx context.Context, _, _ string) error {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < l.delay {
		return errors.New("no slot before the deadline")
	}
	return pause.For(ctx, l.delay)
}

// TestACallTimeoutLeavesOutBudgetWaits: under a diag call timeout, the time
// a call waits for the budget (the limiter's slot, backing off from
// RequestLimitExceeded) counts against the context's deadline only, while
// an attempt that hangs still fails after the call timeout. Without one,
// Config.Timeout bounds the whole call.
func TestACallTimeoutLeavesOutBudgetWaits(t *testing.T) {
	const callTimeout = 200 * time.Millisecond
	throttled := failure("RequestLimitExceeded", "slow down")
	tests := []struct {
		name          string
		replies       []reply
		delay         time.Duration // the limiter's, per call
		noCallTimeout bool
		wantKind      diag.ErrorKind // "" for success
		wantRequests  int
	}{
		{"a slot later than the call timeout is waited for", []reply{success(`"RealBalance":100`)}, 3 * callTimeout, false, "", 1},
		{"throttling longer than the call timeout is waited out",
			[]reply{throttled, throttled, throttled, throttled, success(`"RealBalance":100`)}, 0, false, "", 5},
		{"a hung attempt fails after the call timeout", []reply{{block: true}}, 0, false, diag.KindUnavailable, 1},
		{"without a call timeout, Config.Timeout bounds the budget wait", []reply{success(`"RealBalance":100`)}, 3 * callTimeout, true, diag.KindThrottled, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on("DescribeAccountBalance", tt.replies...)
			c := newTestClient(t, f, nil, func(cfg *Config) {
				// As cvmlogin configures it: Timeout is diagnosis.check_timeout too.
				cfg.Limiter, cfg.RetryBase, cfg.Timeout = slowLimiter{tt.delay}, 100*time.Millisecond, callTimeout
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if !tt.noCallTimeout {
				ctx = diag.WithCallTimeout(ctx, callTimeout)
			}
			start := time.Now()
			_, err := c.AccountBalance(ctx)
			if kind := diag.KindOf(err); kind != tt.wantKind || (err != nil && kind == "") {
				t.Errorf("error %v (kind %q), want kind %q", err, kind, tt.wantKind)
			}
			if tt.wantKind == diag.KindUnavailable && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want it to wrap context.DeadlineExceeded", err)
			}
			if elapsed := time.Since(start); elapsed > 4*time.Second {
				t.Errorf("returned after %v: the context's deadline bounds it", elapsed)
			}
			if n := len(f.requests()); n != tt.wantRequests {
				t.Errorf("sent %d requests, want %d", n, tt.wantRequests)
			}
		})
	}
}
