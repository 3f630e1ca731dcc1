package diag_test

import (
	"context"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

// TestWatchChecksTheLoginService: against the simulator, a watch says
// which of "TCP answers" and "the login service runs" hold, asking TAT only
// every few probes and once when the port answers.
func TestWatchChecksTheLoginService(t *testing.T) {
	tests := []struct {
		name, id     string
		guest        bool
		deadline     time.Duration
		prepare      func(*tencentsim.Sim)
		whileWaiting func(*tencentsim.Sim) // once the first in-guest check ran
		reachable    bool
		service      string // "running", "down", "error" or "" for no check
	}{
		{name: "sshd stopped then started", id: "ins-portdown", guest: true, deadline: 20 * time.Second,
			whileWaiting: func(s *tencentsim.Sim) { _ = s.SetLoginService("ins-portdown", true) }, reachable: true, service: "running"},
		{name: "port never answers, sshd down", id: "ins-portdown", guest: true, deadline: 2 * time.Second, service: "down"},
		{name: "port never answers, sshd running", id: "ins-sgdrop01", guest: true, deadline: 2 * time.Second, service: "running"},
		{name: "port answers, check fails", id: "ins-linux001", guest: true, deadline: 5 * time.Second,
			prepare: func(s *tencentsim.Sim) { s.SetFault("tat", "RunCommand", "InternalError") }, reachable: true, service: "error"},
		{name: "no TAT agent online", id: "ins-linux001", deadline: 5 * time.Second, reachable: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client, sim := simClient(t, tencentsim.Options{})
			if tc.prepare != nil {
				tc.prepare(sim)
			}
			sc, _ := sim.Scenario(tc.id)
			req := diag.WatchRequest{Address: sc.PublicIPs[0] + ":22"}
			if tc.guest {
				req.Guest = &diag.GuestTarget{Region: sc.Region, InstanceID: tc.id, OS: diag.OSLinux, Port: 22}
			}
			if tc.whileWaiting != nil {
				go func() {
					for sim.CallCount("tat", "DescribeInvocationTasks") == 0 {
						time.Sleep(5 * time.Millisecond)
					}
					tc.whileWaiting(sim)
				}()
			}
			w := &diag.Watcher{Dialer: sim.Dialer(), Guest: client, Options: diag.WatchOptions{Interval: 10 * time.Millisecond,
				MaxInterval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond, Deadline: tc.deadline, ServiceEvery: 2, GuestPoll: time.Millisecond}}
			res := w.WatchLogin(context.Background(), req)
			if res.Reachable != tc.reachable || serviceOutcome(res.Service) != tc.service {
				t.Fatalf("got reachable %v, service %s (%+v); want %v, %q", res.Reachable, serviceOutcome(res.Service), res.Service, tc.reachable, tc.service)
			}
			if runs := sim.CallCount("tat", "RunCommand"); runs > res.Attempts/2+1 {
				t.Errorf("%d in-guest checks for %d probes, want one every 2 probes at most, and one at the end", runs, res.Attempts)
			}
		})
	}
}

func serviceOutcome(c *diag.ServiceCheck) string {
	switch {
	case c == nil:
		return ""
	case c.Err != "":
		return "error"
	case c.Running(22):
		return "running"
	}
	return "down"
}
