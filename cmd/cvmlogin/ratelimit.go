package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/cvmlogin/cvmlogin/configs"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
)

// sharedLimiter returns the limiter spending the account's Tencent Cloud
// budgets (tencentcloud.rate_limits) through store's Redis, shared by every
// replica using it.
func sharedLimiter(cfg *configs.Config, store *conversations.Store, logger *slog.Logger) (tencent.Limiter, error) {
	budgets, err := tencent.Budgets(cfg.TencentCloud.RateLimits)
	if err != nil {
		return nil, usageError("%w", err)
	}
	return store.RateLimiter(conversations.RateLimiterOptions{Budgets: budgets, Logger: logger.With("component", "ratelimit")}), nil
}

// redisProbeTimeout bounds how long a one-off command waits to learn whether
// the configured Redis answers.
const redisProbeTimeout = 500 * time.Millisecond

// optionalSharedLimiter is sharedLimiter for one-off commands: when the
// configured Redis answers within redisProbeTimeout they share the bot's
// budgets, otherwise (and against the simulator) the client's in-process
// limiter is used (nil). release closes the Redis client.
func optionalSharedLimiter(ctx context.Context, cfg *configs.Config, sim simulateOptions, logger *slog.Logger) (limiter tencent.Limiter, release func(), err error) {
	release = func() {}
	if sim.enabled {
		return nil, release, nil
	}
	rdb, where, err := redisClient(cfg)
	if err != nil {
		return nil, release, nil
	}
	store := conversations.New(rdb, storeOptions(cfg))
	ctx, cancel := context.WithTimeout(ctx, redisProbeTimeout)
	defer cancel()
	if err := store.Ping(ctx); err != nil {
		logger.Debug("Redis does not answer: Tencent Cloud budgets are not shared with the bot", "redis", where, "err", err)
		rdb.Close()
		return nil, release, nil
	}
	limiter, err = sharedLimiter(cfg, store, logger)
	return limiter, func() { rdb.Close() }, err
}
