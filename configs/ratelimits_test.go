package configs

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRateLimitsAreAMapOfBudgets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cvmlogin.yaml")
	yaml := "tencentcloud:\n  rate_limits:\n    DescribeInstances: 7\n    GetMonitorData: 0\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(LoadOptions{File: path})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.TencentCloud.RateLimits["describeinstances"]; got != 7 {
		t.Errorf("rate_limits %v, want describeinstances: 7 (keys are case-insensitive)", cfg.TencentCloud.RateLimits)
	}
	var keys []string
	for _, p := range cfg.Validate() {
		keys = append(keys, p.Key)
	}
	want := []string{"tencentcloud.rate_limits.getmonitordata"}
	if !slices.Equal(keys, want) {
		t.Errorf("problems at %q, want only %q (a budget of 0; no unknown-key warning)", keys, want)
	}
}

func TestRateLimitsFromTheEnvironment(t *testing.T) {
	cfg, err := Load(LoadOptions{Environ: []string{"CVMLOGIN_TENCENTCLOUD_RATE_LIMITS=DescribeInstances=5, GetMonitorData=3"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"describeinstances": 5, "getmonitordata": 3}
	if got := cfg.TencentCloud.RateLimits; !maps.Equal(got, want) {
		t.Errorf("rate_limits %v, want %v", got, want)
	}
	if _, err := Load(LoadOptions{Environ: []string{"CVMLOGIN_TENCENTCLOUD_RATE_LIMITS=DescribeInstances"}}); err == nil {
		t.Error("an item without a value was accepted")
	}
}

func TestAlarmPolicyChannelsFromTheEnvironment(t *testing.T) {
	cfg, err := Load(LoadOptions{Environ: []string{"CVMLOGIN_ALARMS_POLICY_CHANNELS=policy-n4exeh88=C0123ABCD, policy-b=C2"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"policy-n4exeh88": "C0123ABCD", "policy-b": "C2"}
	if got := cfg.Alarms.PolicyChannels; !maps.Equal(got, want) {
		t.Errorf("policy_channels %v, want %v", got, want)
	}
}
