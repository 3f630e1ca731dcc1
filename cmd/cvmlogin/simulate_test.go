package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// TestSimulateFault: `simulate --fault` makes the standalone simulator
// answer that action with the code, so that an operator can rehearse a
// denied permission.
func TestSimulateFault(t *testing.T) {
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"simulate", "--listen", "127.0.0.1:0",
			"--fault", "vpc:DescribeSecurityGroupPolicies=UnauthorizedOperation.CamNoAuth"}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if code := <-exited; code != exitOK {
			t.Errorf("simulate exited %d: %s", code, stderr.String())
		}
	}()
	var endpoint string
	slackfake.WaitFor(t, func() bool {
		m := regexp.MustCompile(`simulator on http://(127\.0\.0\.1:\d+)`).FindStringSubmatch(stdout.String())
		if m != nil {
			endpoint = m[1]
		}
		return m != nil
	}, 10*time.Second)
	client, err := tencent.New(tencent.Config{Region: "ap-guangzhou", Endpoint: endpoint, Scheme: "http",
		SecretID: tencentsim.TestSecretID, SecretKey: tencentsim.TestSecretKey, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.SecurityGroupPolicies(ctx, "ap-guangzhou", "sg-sgdrop01")
	if diag.KindOf(err) != diag.KindPermission || !strings.Contains(err.Error(), "UnauthorizedOperation.CamNoAuth") {
		t.Errorf("DescribeSecurityGroupPolicies: %v, want the injected UnauthorizedOperation.CamNoAuth", err)
	}
	if _, err := client.FindInstances(ctx, "ap-guangzhou", diag.InstanceQuery{ID: "ins-sgdrop01"}); err != nil {
		t.Errorf("DescribeInstances, not faulted: %v", err)
	}
}

func TestParseFaults(t *testing.T) {
	got, err := parseFaults([]string{"tat:RunCommand=UnauthorizedOperation.CamNoAuth"})
	if err != nil || len(got) != 1 || got[0] != (simFault{"tat", "RunCommand", "UnauthorizedOperation.CamNoAuth"}) {
		t.Errorf("parseFaults = %v, %v", got, err)
	}
	for _, bad := range []string{"RunCommand=X", "tat:RunCommand", "tat:RunCommand=", ":RunCommand=X"} {
		if _, err := parseFaults([]string{bad}); err == nil {
			t.Errorf("parseFaults(%q) accepted it", bad)
		}
	}
}

func TestParseRateLimits(t *testing.T) {
	tests := []struct {
		values []string
		want   []tencentsim.RateLimit
		bad    bool
	}{
		{values: nil},
		{values: []string{"3"}, want: []tencentsim.RateLimit{{PerSecond: 3}}},
		{values: []string{"3", "vpc:DescribeSecurityGroupPolicies=1", "cvm:DescribeInstances=0"}, want: []tencentsim.RateLimit{
			{PerSecond: 3}, {Service: "vpc", Action: "DescribeSecurityGroupPolicies", PerSecond: 1}, {Service: "cvm", Action: "DescribeInstances"}}},
		{values: []string{"-1"}, bad: true},
		{values: []string{"three"}, bad: true},
		{values: []string{"DescribeInstances=3"}, bad: true},
		{values: []string{":DescribeInstances=3"}, bad: true},
		{values: []string{"cvm:DescribeInstances="}, bad: true},
	}
	for _, tt := range tests {
		got, err := parseRateLimits(tt.values)
		if tt.bad {
			if err == nil {
				t.Errorf("parseRateLimits(%q) accepted it: %v", tt.values, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseRateLimits(%q) = %v, %v; want %v", tt.values, got, err, tt.want)
		}
	}
}

// TestConfigCheckSimulateFault: --fault with --simulate rehearses a denied
// permission in `config check --online`; without --simulate it is refused.
func TestConfigCheckSimulateFault(t *testing.T) {
	w := newOnlineWorld(t)
	s := w.settings()
	delete(s, "tencentcloud")
	cfg := mustWriteConfig(t, s)
	code, out, _ := runCLI(t, "--config", cfg, "config", "check", "--online", "--simulate", "--fault", "tat:RunCommand=UnauthorizedOperation.CamNoAuth")
	if code != exitFailed || !strings.Contains(out, "FAIL  tencent: tat:RunCommand denied (UnauthorizedOperation.CamNoAuth)") {
		t.Errorf("exit %d; want %d and tat:RunCommand denied:\n%s", code, exitFailed, out)
	}
	if code, out, _ := runCLI(t, "--config", cfg, "config", "check", "--online", "--fault", "tat:RunCommand=X"); !strings.Contains(out, "--fault needs --simulate") {
		t.Errorf("exit %d; --fault without --simulate was not refused:\n%s", code, out)
	}
}
