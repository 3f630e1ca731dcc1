package tencent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"

	"golang.org/x/time/rate"
)

// Limiter spends an account's request budget: Wait returns once a call to
// action may be sent on behalf of account, or fails when no slot comes before
// ctx's deadline (or ctx ends). Tencent Cloud limits each action per account,
// so a limiter shared by every replica (and tool) calling with one account
// keeps them all within the budget together. Implementations must be safe
// for concurrent use.
type Limiter interface {
	Wait(ctx context.Context, account, action string) error
}

// DefaultBudgetShare is the share of an action's documented rate limit that
// its default budget spends: the limit is per account, and other tools and
// people use the same account.
const DefaultBudgetShare = 0.5

// Budgets returns every action's budget in requests per second: overrides
// (action name → requests per second, configuration key
// tencentcloud.rate_limits) where given, else DefaultBudgetShare of the
// documented limit, at least 1. Action names match in any case (the
// configuration loader lowercases map keys). It fails on an unknown action or
// a budget below 1.
func Budgets(overrides map[string]int) (map[string]int, error) {
	budgets := make(map[string]int, len(actions))
	byLower := make(map[string]string, len(actions))
	for _, a := range actions {
		budgets[a.name] = max(1, int(math.Floor(float64(a.perSecond)*DefaultBudgetShare)))
		byLower[strings.ToLower(a.name)] = a.name
	}
	var unknown []string
	for name, rps := range overrides {
		canonical, ok := byLower[strings.ToLower(name)]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if rps < 1 {
			return nil, fmt.Errorf("tencentcloud.rate_limits.%s: %d requests/s: want at least 1", name, rps)
		}
		budgets[canonical] = rps
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("tencentcloud.rate_limits: unknown actions %s: use action names like DescribeInstances",
			strings.Join(unknown, ", "))
	}
	return budgets, nil
}

// accountKey names an account in limiter keys without revealing its secret
// ID: "ak-" and 16 hex digits of the ID's SHA-256.
func accountKey(secretID string) string {
	sum := sha256.Sum256([]byte(secretID))
	return "ak-" + hex.EncodeToString(sum[:8])
}

// LocalLimiter is a Limiter for one process: a token bucket per action, each
// allowing a burst of half a second's worth of calls so that a diagnosis's
// parallel reads (four metrics, say) do not queue behind each other. It
// ignores the account.
type LocalLimiter struct {
	limiters map[string]*rate.Limiter
}

// NewLocalLimiter returns a LocalLimiter spending budgets (see Budgets).
// An action without a budget is not limited.
func NewLocalLimiter(budgets map[string]int) *LocalLimiter {
	l := &LocalLimiter{limiters: make(map[string]*rate.Limiter, len(budgets))}
	for name, rps := range budgets {
		l.limiters[name] = rate.NewLimiter(rate.Limit(rps), max(1, rps/2))
	}
	return l
}

// Wait implements Limiter. It fails at once when the slot would come after
// ctx's deadline.
func (l *LocalLimiter) Wait(ctx context.Context, _, action string) error {
	if lim, ok := l.limiters[action]; ok {
		return lim.Wait(ctx)
	}
	return ctx.Err()
}
