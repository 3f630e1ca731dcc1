package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slack-go/slack"
	"github.com/spf13/cobra"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/bot/slackio"
	"github.com/cvmlogin/cvmlogin/configs"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/internal/logging"
	"github.com/cvmlogin/cvmlogin/internal/metrics"
)

func newServeCmd(g *globals) *cobra.Command {
	var sim simulateOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Slack bot (Socket Mode or HTTP mode, per slack.mode)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(cmd.Flags(), map[string]string{}, configs.ForServe)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, sim, newLogger(cfg, g.stderr))
		},
	}
	cmd.Flags().BoolVar(&sim.enabled, "simulate", false, "diagnose against the built-in Tencent Cloud simulator instead of the real API")
	cmd.Flags().StringVar(&sim.scenarios, "scenarios", "", "with --simulate: a JSON scenario file instead of the built-in scenarios")
	addFaultFlag(cmd, &sim.faults)
	return cmd
}

// serve wires everything and runs the bot until ctx is done, then shuts down
// gracefully: stop taking requests, let the jobs in hand finish (or hand
// them back to the queue), then return.
func serve(ctx context.Context, cfg *configs.Config, sim simulateOptions, logger *slog.Logger) error {
	// go-redis's own messages (pool dial failures) join the structured log.
	// The hook is process-wide, so only the long-running command sets it.
	redis.SetLogger(logging.Printf{Logger: logger.With("component", "redis")})
	m := newMetrics()
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	limiter, err := sharedLimiter(cfg, store, logger)
	if err != nil {
		return err
	}
	backend, err := newBackend(cfg, sim, logger, m.TencentCall, limiter)
	if err != nil {
		return err
	}
	defer backend.Close()
	m.WatchQueue(store.QueueDepth)
	api := newSlackClient(cfg, slack.OptionHTTPClient(&http.Client{Transport: m.InstrumentSlack(nil)}))
	auth, err := api.AuthTestContext(ctx)
	if err != nil {
		return &exitError{code: exitCouldNot, err: slackAuthError(err)}
	}
	logger.Info("connected to Slack", "team", auth.Team, "bot_user", auth.UserID, "mode", cfg.Slack.Mode)

	diagnoser := diag.NewDiagnoser(backend.client, diagnoserOptions(cfg, backend.dialer, logger))
	fixer := diag.NewFixer(backend.client, backend.client, diag.FixerOptions{AllowedTags: cfg.TencentCloud.AllowedTags, Logger: logger.With("component", "fix")})
	opts := botOptions(cfg, logger, m)
	opts.VNC = backend.client
	if cfg.Diagnosis.PortProbe {
		opts.Watch = loginWatcher(cfg, backend)
	}
	b := bot.New(api, store, diagnoser, fixer, opts)

	metricsHandler := m.Handler()
	if cfg.Metrics.Listen != "" {
		metricsHandler = nil // served on its own listener below
	}
	httpSrv := slackio.NewHTTPServer(b, slackio.HTTPOptions{
		Verifier: slackio.Verifier{Secret: cfg.Slack.SigningSecret}, SlackRoutes: cfg.Slack.Mode == "http",
		Metrics: metricsHandler, ObserveAck: m.AckObserver("http"), Logger: logger, // the transport adds its component
		ObserveRefused: m.RefusalObserver("http"),
		Routes:         alarmRoutes(cfg, b, backend.client, logger),
	})
	ln, err := listen("http.listen", cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	logger.Info("serving health and metrics", "addr", ln.Addr().String(), "slack_routes", cfg.Slack.Mode == "http", "metrics", metricsHandler != nil)

	components := []component{
		{"the job workers", func(ctx context.Context) error {
			b.Run(ctx, store.Worker(conversations.WorkerOptions{Logger: logger}))
			return nil
		}},
		{"the HTTP listener", serveHTTP(httpSrv, ln, "http.listen")},
	}
	if cfg.Metrics.Listen != "" {
		metricsLn, err := listen("metrics.listen", cfg.Metrics.Listen)
		if err != nil {
			return err
		}
		defer metricsLn.Close()
		logger.Info("serving metrics", "addr", metricsLn.Addr().String())
		components = append(components, component{"the metrics listener", serveHTTP(metricsServer(m), metricsLn, "metrics.listen")})
	}
	if cfg.Slack.Mode == "socket" {
		socket := slackio.NewSocketClient(api, b, slackio.SocketOptions{Logger: logger, ObserveAck: m.AckObserver("socket"), OnConnection: m.SocketConnected,
			ObserveRefused: m.RefusalObserver("socket")})
		components = append(components, component{"Socket Mode", func(ctx context.Context) error {
			return socketError(socket.Run(ctx))
		}})
	}
	if err := runComponents(ctx, logger, components...); err != nil {
		return &exitError{code: exitCouldNot, err: err}
	}
	return nil
}

// loginWatcher watches a login port with the diagnosis's own dialer (the
// simulator's with --simulate), every 10 s backing off to 30 s, for up to 10
// minutes, and checks the login service in the guest through TAT when
// diagnosis.guest_checks is on.
func loginWatcher(cfg *configs.Config, backend *backend) *diag.Watcher {
	w := &diag.Watcher{Dialer: backend.dialer, Options: diag.WatchOptions{ServiceTimeout: cfg.Diagnosis.GuestTimeout}}
	if cfg.Diagnosis.GuestChecks {
		w.Guest = backend.client
	}
	return w
}

// alarmRoutes adds the alarm endpoints to http.listen, in both Slack modes,
// when alarms.token is set; nil otherwise. Tag routes read the instances'
// tags through instances.
func alarmRoutes(cfg *configs.Config, b *bot.Bot, instances diag.InstanceAPI, logger *slog.Logger) func(*http.ServeMux) {
	if cfg.Alarms.Token == "" {
		return nil
	}
	a := cfg.Alarms
	return bot.NewAlarmHandler(b, bot.AlarmOptions{Token: a.Token, PolicyChannels: a.PolicyChannels, TagChannels: a.TagChannels,
		Tags: diag.NewTagReader(instances, cfg.TencentCloud.Region, cfg.TencentCloud.Regions, 0), Logger: logger}).Register
}

// newMetrics returns the process's metrics, every family declared.
func newMetrics() *metrics.Metrics {
	m := metrics.New()
	v := buildVersion()
	m.BuildInfo(v.version, v.revision)
	var actions []string
	for _, a := range tencent.Actions() {
		actions = append(actions, a.String())
	}
	m.DeclareTencentActions(actions...)
	return m
}

// metricsServer serves GET /metrics alone, for metrics.listen.
func metricsServer(m *metrics.Metrics) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// listen listens on addr, which the configuration key names.
func listen(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &exitError{code: exitCouldNot, err: fmt.Errorf("listening on %s %s: %w", key, addr, err)}
	}
	return ln, nil
}

// component is one long-running part of serve. Its run function returns
// once its context is done, after stopping gracefully; returning before
// that, with or without an error, is fatal for the whole process.
type component struct {
	name string
	run  func(ctx context.Context) error
}

// runComponents runs every component until ctx is done or one of them stops
// by itself. A component that stops by itself cancels the others, so that
// the process exits (non-zero) and its supervisor restarts it rather than
// leaving it up but dead. It returns the first component's fatal error, or
// nil when ctx was done.
func runComponents(ctx context.Context, logger *slog.Logger, components ...component) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fatal := make(chan error, len(components))
	var wg sync.WaitGroup
	for _, c := range components {
		wg.Go(func() {
			err := c.run(ctx)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				err = errors.New("stopped unexpectedly")
			}
			fatal <- fmt.Errorf("%s: %w", c.name, err)
		})
	}
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down: finishing the work in hand")
	case runErr = <-fatal:
		logger.Error("stopping: a component failed", "err", runErr)
	}
	cancel()
	wg.Wait()
	return runErr
}

// httpServer is what serveHTTP runs: a *slackio.HTTPServer or an *http.Server.
type httpServer interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// serveHTTP returns the run function of an HTTP server on ln, configured by
// the key named: it serves until its context is done, then shuts down
// gracefully within shutdownTimeout.
func serveHTTP(srv httpServer, ln net.Listener, key string) func(context.Context) error {
	return func(ctx context.Context) error {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case err := <-served:
			return fmt.Errorf("serving on %s %s: %w", key, ln.Addr(), err)
		case <-ctx.Done():
		}
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		return nil
	}
}

// shutdownTimeout bounds how long an HTTP server waits for the requests in
// hand when shutting down.
const shutdownTimeout = 30 * time.Second

// socketError says which setting to check when Slack refuses the Socket Mode
// connection for good.
func socketError(err error) error {
	var refused slack.SlackErrorResponse
	if errors.As(err, &refused) {
		return fmt.Errorf("slack.app_token rejected by Slack (apps.connections.open: %s): check the app-level token (xapp-…, scope connections:write) and that Socket Mode is enabled for the app", refused.Err)
	}
	return err
}

// openStore connects to Redis and says exactly where it could not.
func openStore(ctx context.Context, cfg *configs.Config) (*conversations.Store, error) {
	rdb, where, err := redisClient(cfg)
	if err != nil {
		return nil, usageError("redis: %w", err)
	}
	store := conversations.New(rdb, storeOptions(cfg))
	if err := pingStore(ctx, store); err != nil {
		return nil, &exitError{code: exitCouldNot, err: fmt.Errorf("no answer from Redis at %s: %w (set redis.addr or CVMLOGIN_REDIS_ADDR)", where, err)}
	}
	return store, nil
}

// storeOptions maps configuration onto the state store.
func storeOptions(cfg *configs.Config) conversations.Options {
	return conversations.Options{Prefix: cfg.Redis.KeyPrefix, AuditMaxLen: cfg.Audit.MaxLength, AuditMaxAge: cfg.Audit.MaxAge}
}

// redisClient returns a client of the configured Redis and where that is,
// for messages: its addresses, or "redis.url" (which may hold a password).
func redisClient(cfg *configs.Config) (rdb redis.UniversalClient, where string, err error) {
	r := cfg.Redis
	addrs := r.Addrs
	if len(addrs) == 0 {
		addrs = []string{r.Addr}
	}
	where = strings.Join(addrs, ",")
	if r.URL != "" {
		where = "redis.url"
	}
	rdb, err = conversations.NewClient(conversations.ClientOptions{URL: r.URL, Addrs: addrs, MasterName: r.MasterName, Password: r.Password, DB: r.DB,
		Workers: cfg.Diagnosis.Workers})
	return rdb, where, err
}

// pingStore checks that the state store answers within 5s.
func pingStore(ctx context.Context, store *conversations.Store) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return store.Ping(ctx)
}

// newSlackClient builds the Web API client: 429 answers are retried after
// their Retry-After by slack-go itself. extra options, such as
// slack.OptionHTTPClient, apply before the retry configuration, so that
// the retries go through the HTTP client they set.
func newSlackClient(cfg *configs.Config, extra ...slack.Option) *slack.Client {
	opts := append([]slack.Option{slack.OptionAppLevelToken(cfg.Slack.AppToken)}, extra...)
	opts = append(opts, slack.OptionRetryConfig(slack.RetryConfig{MaxRetries: 3, RetryAfterJitter: 500 * time.Millisecond}))
	if cfg.Slack.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(cfg.Slack.APIURL))
	}
	return slack.New(cfg.Slack.BotToken, opts...)
}

// botOptions maps configuration onto the bot, which counts into m.
func botOptions(cfg *configs.Config, logger *slog.Logger, m bot.Metrics) bot.Options {
	host, _ := os.Hostname()
	return bot.Options{
		DefaultRegion:    cfg.TencentCloud.Region,
		KnownRegion:      knownRegion(cfg),
		AllowedChannels:  cfg.Access.AllowedChannels,
		Approvers:        cfg.Approvals.Approvers,
		ApproverGroups:   cfg.Approvals.ApproverGroups,
		FourEyes:         cfg.Approvals.FourEyes,
		ApprovalTTL:      cfg.Approvals.TTL,
		DiagnosisTimeout: cfg.Diagnosis.Timeout,
		Workers:          cfg.Diagnosis.Workers,
		AlarmChannel:     cfg.Alarms.Channel,
		Replica:          fmt.Sprintf("%s-%d", host, os.Getpid()),
		Logger:           logger,
		Metrics:          m,
	}
}

// knownRegion accepts the regions the SDK knows and the configured ones, so
// that a typo in /cvm-login is answered at once rather than by a diagnosis
// that finds nothing.
func knownRegion(cfg *configs.Config) func(string) bool {
	known := append(tencent.Regions(), cfg.TencentCloud.Region)
	known = append(known, cfg.TencentCloud.Regions...)
	return func(region string) bool { return slices.Contains(known, region) }
}

// slackAuthError says whether Slack refused the bot token or could not be
// reached at all.
func slackAuthError(err error) error {
	var refused slack.SlackErrorResponse
	if errors.As(err, &refused) {
		return fmt.Errorf("slack.bot_token rejected by Slack (auth.test: %w): check the token and that the app is installed in the workspace", err)
	}
	return fmt.Errorf("could not reach Slack to check slack.bot_token (auth.test: %w): check this host's network access to slack.com (or slack.api_url)", err)
}
