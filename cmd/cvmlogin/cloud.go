package main

import (
	"fmt"
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
	scenarios string   // JSON scenario file; "" for the built-in scenarios
	faults    []string // --fault service:Action=CODE
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
	if !sim.enabled && len(sim.faults) > 0 {
		return nil, usageError("--fault needs --simulate: faults are injected into the simulator only")
	}
	if sim.enabled {
		scenarios, err := loadScenarios(sim.scenarios)
		if err != nil {
			return nil, err
		}
		faults, err := parseFaults(sim.faults)
		if err != nil {
			return nil, err
		}
		b.sim = tencentsim.New(tencentsim.Options{Scenarios: scenarios, Logger: logger.With("component", "tencentsim")})
		injectFaults(b.sim, faults)
		endpoint, err := b.sim.Start("127.0.0.1:0")
		if err != nil {
			return nil, &exitError{code: exitCouldNot, err: fmt.Errorf("starting the simulator: %w", err)}
		}
		tc.Endpoint, tc.Scheme = endpoint, "http"
		tc.SecretID, tc.SecretKey = tencentsim.TestSecretID, tencentsim.TestSecretKey
		b.dialer = b.sim.Dialer()
	}
	unsetEmptyCredentialEnv()
	client, err := tencent.New(tc)
	if err != nil {
		b.Close()
		return nil, &exitError{code: exitCouldNot, err: fmt.Errorf("connecting to Tencent Cloud: %w", err)}
	}
	b.client = client
	return b, nil
}

// credentialEnv are the environment variables the Tencent SDK's default
// credential chain reads.
var credentialEnv = []string{"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_CREDENTIALS_FILE"}

// unsetEmptyCredentialEnv unsets those of credentialEnv that are set but
// empty, as Compose's env_file sets `TENCENTCLOUD_SECRET_ID=`.
//
// When tencentcloud.secret_id and secret_key are not both set, credentials
// come from the SDK's default chain (common.DefaultProviderChain, SDK common
// v1.3.212), which tries in order:
//
//  1. the environment: TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY;
//  2. a profile file: $TENCENTCLOUD_CREDENTIALS_FILE, else
//     ~/.tencentcloud/credentials, section [default], keys secret_id and
//     secret_key;
//  3. the CVM role bound to the instance the bot runs on, from the metadata
//     service (temporary keys, refreshed by the SDK).
//
// The chain moves on to the next provider only when one is not configured at
// all; a variable set to "" is an error that stops the whole chain, so a
// profile file or CVM role would never be tried. There is no OIDC (TKE
// workload identity) provider in the default chain.
func unsetEmptyCredentialEnv() {
	for _, name := range credentialEnv {
		if value, set := os.LookupEnv(name); set && value == "" {
			os.Unsetenv(name)
		}
	}
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
		AllowedTags: cfg.TencentCloud.AllowedTags,
		Dialer:      dialer, Logger: logger.With("component", "diag"),
	}
}
