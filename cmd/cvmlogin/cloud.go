package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/cvmlogin/cvmlogin/configs"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// backend is the cloud a command talks to: the real Tencent Cloud, or the
// in-process simulator under --simulate.
type backend struct {
	client *tencent.Client
	dialer diag.Dialer // nil: real TCP
	sim    *tencentsim.Sim
}

// Close stops the simulator, if any.
func (b *backend) Close() {
	if b.sim != nil {
		b.sim.Close()
	}
}

// simulateOptions are the flags shared by commands that can run against the
// in-process simulator.
type simulateOptions struct {
	enabled   bool
	scenarios string // JSON scenario file; "" for the built-in scenarios
}

// loadScenarios reads a scenario file, or returns nil for the built-ins.
func loadScenarios(path string) ([]tencentsim.Scenario, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError("reading scenarios: %w", err)
	}
	defer f.Close()
	scenarios, err := tencentsim.LoadScenarios(f)
	if err != nil {
		return nil, usageError("reading scenarios from %s: %w", path, err)
	}
	return scenarios, nil
}

// newBackend connects to Tencent Cloud as configured or, with sim.enabled,
// starts the simulator on a loopback port and points everything at it.
// onCall, if not nil, sees every API call (tencent.Config.OnCall); limiter,
// if not nil, spends the budgets (tencent.Config.Limiter).
func newBackend(cfg *configs.Config, sim simulateOptions, logger *slog.Logger, onCall func(diag.APICall), limiter tencent.Limiter) (*backend, error) {
	tc := tencent.Config{
		Region: cfg.TencentCloud.Region, Endpoint: cfg.TencentCloud.Endpoint, Scheme: cfg.TencentCloud.Scheme,
		SecretID: cfg.TencentCloud.SecretID, SecretKey: cfg.TencentCloud.SecretKey, Timeout: cfg.Diagnosis.CheckTimeout,
		Logger: logger.With("component", "tencent"), OnCall: onCall,
		RateLimits: cfg.TencentCloud.RateLimits, Limiter: limiter,
	}
	b := &backend{}
	if sim.enabled {
		scenarios, err := loadScenarios(sim.scenarios)
		if err != nil {
			return nil, err
		}
		b.sim = tencentsim.New(tencentsim.Options{Scenarios: scenarios, Logger: logger.With("component", "tencentsim")})
		endpoint, err := b.sim.Start("127.0.0.1:0")
		if err != nil {
			return nil, &exitError{code: exitCouldNot, err: fmt.Errorf("starting the simulator: %w", err)}
		}
		tc.Endpoint, tc.Scheme = endpoint, "http"
		tc.SecretID, tc.SecretKey = tencentsim.TestSecretID, tencentsim.TestSecretKey
		b.dialer = b.sim.Dialer()
	}
	client, err := tencent.New(tc)
	if err != nil {
		b.Close()
		return nil, &exitError{code: exitCouldNot, err: fmt.Errorf("connecting to Tencent Cloud: %w", err)}
	}
	b.client = client
	return b, nil
}

// diagnoserOptions maps configuration onto the pipeline's options.
func diagnoserOptions(cfg *configs.Config, dialer diag.Dialer, logger *slog.Logger) diag.Options {
	d := cfg.Diagnosis
	return diag.Options{
		Region: cfg.TencentCloud.Region, Regions: cfg.TencentCloud.Regions,
		Timeout: d.Timeout, CheckTimeout: d.CheckTimeout,
		PortProbe: d.PortProbe, ProbeTimeout: d.ProbeTimeout,
		GuestChecks: d.GuestChecks, GuestTimeout: d.GuestTimeout,
		Thresholds: diag.Thresholds{
			CPUPercent: d.Thresholds.CPUPercent, MemoryPercent: d.Thresholds.MemoryPercent,
			BandwidthPercent: d.Thresholds.BandwidthPercent, DiskPercent: d.Thresholds.DiskPercent, Window: d.Thresholds.Window,
		},
		Dialer: dialer, Logger: logger.With("component", "diag"),
	}
}

// discardLogger is for commands whose output must stay clean.
var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))
