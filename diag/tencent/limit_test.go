package tencent

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
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
