package tencentsim

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFaultInjection(t *testing.T) {
	sim, client := startSim(t, newFakeClock(), Options{})
	describe := func() string {
		return client.call("cvm", "DescribeInstances", `{"InstanceIds":["ins-linux001"]}`).code()
	}
	steps := []struct {
		name  string
		setup func()
		want  []string // codes of consecutive calls
	}{
		{"none", func() {}, []string{"", ""}},
		{"persistent", func() { sim.SetFault("cvm", "DescribeInstances", "RequestLimitExceeded") },
			[]string{"RequestLimitExceeded", "RequestLimitExceeded"}},
		{"once over persistent", func() { sim.SetFaultOnce("cvm", "DescribeInstances", "InternalError") },
			[]string{"InternalError", "RequestLimitExceeded"}},
		{"cleared", func() { sim.SetFault("cvm", "DescribeInstances", "") }, []string{"", ""}},
		{"once alone", func() { sim.SetFaultOnce("cvm", "DescribeInstances", "UnauthorizedOperation") },
			[]string{"UnauthorizedOperation", ""}},
	}
	for _, step := range steps {
		step.setup()
		for i, want := range step.want {
			if got := describe(); got != want {
				t.Errorf("%s, call %d: %q, want %q", step.name, i, got, want)
			}
		}
	}
	if r := client.call("cvm", "DescribeImages", `{}`); r.code() != "" {
		t.Errorf("a fault leaked to another action: %v", r.Error)
	}
}

func TestCallRecord(t *testing.T) {
	sim, client := startSim(t, newFakeClock(), Options{})
	client.mustCall("cvm", "DescribeInstances", `{"InstanceIds":["ins-linux001"]}`, nil)
	client.call("vpc", "DescribeSecurityGroupPolicies", `{"SecurityGroupId":"sg-zzzzzzzz"}`)
	client.mustCall("billing", "DescribeAccountBalance", `{}`, nil)

	calls := sim.Calls()
	if len(calls) != 3 {
		t.Fatalf("%d calls recorded, want 3", len(calls))
	}
	want := []Call{
		{Service: "cvm", Action: "DescribeInstances", Region: defaultRegion, Body: json.RawMessage(`{"InstanceIds":["ins-linux001"]}`)},
		{Service: "vpc", Action: "DescribeSecurityGroupPolicies", Region: defaultRegion, ErrorCode: codeResourceNotFound},
		{Service: "billing", Action: "DescribeAccountBalance", Region: defaultRegion},
	}
	ids := map[string]bool{}
	for i, c := range calls {
		w := want[i]
		if c.Service != w.Service || c.Action != w.Action || c.Region != w.Region || c.ErrorCode != w.ErrorCode ||
			(w.Body != nil && string(c.Body) != string(w.Body)) || c.Time.IsZero() {
			t.Errorf("call %d = %+v, want %+v", i, c, w)
		}
		ids[c.RequestID] = true
	}
	if len(ids) != 3 {
		t.Errorf("request IDs are not unique: %v", ids)
	}
	if n := sim.CallCount("cvm", "DescribeInstances"); n != 1 {
		t.Errorf("CallCount = %d, want 1", n)
	}
	sim.ResetCalls()
	if n := len(sim.Calls()); n != 0 {
		t.Errorf("%d calls after ResetCalls", n)
	}
}

func TestLatency(t *testing.T) {
	sim, client := startSim(t, newFakeClock(), Options{Latency: 20 * time.Millisecond})
	start := time.Now()
	client.mustCall("billing", "DescribeAccountBalance", `{}`, nil)
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("call took %s, want at least the 20ms latency", d)
	}

	sim.SetLatency(0)
	sim.SetActionLatency("billing", "DescribeAccountBalance", time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+client.endpoint+"/", strings.NewReader(`{}`))
	ts := client.now().Unix()
	req.Header.Set("Authorization", Sign(TestSecretID, TestSecretKey, "billing", client.endpoint, "application/json", ts, []byte(`{}`)))
	req.Header.Set("X-TC-Action", "DescribeAccountBalance")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the call answered within its 50ms deadline despite a minute of latency")
	}
	// The server notices the client left and records the call as canceled.
	waitFor(t, 5*time.Second, "the abandoned call recorded as "+codeClientCanceled, func() bool {
		calls := sim.Calls()
		return calls[len(calls)-1].ErrorCode == codeClientCanceled
	})
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestSetAccount(t *testing.T) {
	sim, client := startSim(t, newFakeClock(), Options{})
	sim.SetAccount(-1250.5, 9000)
	r := client.mustCall("billing", "DescribeAccountBalance", `{}`, nil)
	for path, want := range map[string]string{"RealBalance": "-1250.5", "OweAmount": "9000", "Balance": "-1251"} {
		if got := field(t, r.raw, path); got != want {
			t.Errorf("%s = %s, want %s", path, got, want)
		}
	}
}

func TestRoutingErrors(t *testing.T) {
	_, client := startSim(t, newFakeClock(), Options{})
	tests := []struct {
		name     string
		call     wireCall
		wantCode string
	}{
		{"wrong version", wireCall{service: "vpc", action: "DescribeAddresses", version: "2018-07-09"}, "NoSuchVersion"},
		{"cvm without a region", wireCall{service: "cvm", action: "DescribeInstances", headers: map[string]string{"X-TC-Region": ""}}, codeMissingParameter},
		{"billing without a region", wireCall{service: "billing", action: "DescribeAccountBalance", headers: map[string]string{"X-TC-Region": ""}}, ""},
		{"no action", wireCall{service: "cvm", headers: map[string]string{"X-TC-Action": ""}}, codeMissingParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call.params = "{}"
			if r := client.send(tt.call); r.code() != tt.wantCode {
				t.Errorf("code %q (%v), want %q", r.code(), r.Error, tt.wantCode)
			}
		})
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	sim := New(Options{})
	defer sim.Close()
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:80"} {
		if _, err := sim.Start(addr); err == nil {
			t.Errorf("Start(%q) listened", addr)
		}
	}
	endpoint, err := sim.Start("")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(endpoint, "127.0.0.1:") {
		t.Errorf("endpoint %s, want 127.0.0.1:PORT", endpoint)
	}
	if _, err := strconv.Atoi(strings.TrimPrefix(endpoint, "127.0.0.1:")); err != nil {
		t.Errorf("endpoint %s has no port", endpoint)
	}
	if _, err := sim.Start(""); err == nil {
		t.Error("a second Start succeeded")
	}
}
