package tencentsim

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestRebootTransitions(t *testing.T) {
	clock := newFakeClock()
	sim, client := startSim(t, clock, Options{RebootDuration: 50 * time.Millisecond})
	describe := func() map[string]string {
		raw := client.mustCall("cvm", "DescribeInstances", `{"InstanceIds":["ins-portdown"]}`, nil).raw
		out := map[string]string{}
		for _, f := range []string{"InstanceState", "LatestOperation", "LatestOperationState", "LatestOperationRequestId"} {
			out[f] = field(t, raw, "InstanceSet.0."+f)
		}
		return out
	}
	if _, err := sim.Dialer().DialContext(context.Background(), "tcp", "127.0.0.22:22"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("before the reboot: %v, want connection refused (sshd is down)", err)
	}

	reboot := client.mustCall("cvm", "RebootInstances", `{"InstanceIds":["ins-portdown"],"StopType":"SOFT_FIRST"}`, nil)
	steps := []struct {
		advance time.Duration
		want    map[string]string
	}{
		{0, map[string]string{"InstanceState": "REBOOTING", "LatestOperation": "RebootInstances",
			"LatestOperationState": "OPERATING", "LatestOperationRequestId": reboot.RequestID}},
		{49 * time.Millisecond, map[string]string{"InstanceState": "REBOOTING", "LatestOperationState": "OPERATING"}},
		{time.Millisecond, map[string]string{"InstanceState": "RUNNING", "LatestOperation": "RebootInstances",
			"LatestOperationState": "SUCCESS", "LatestOperationRequestId": reboot.RequestID}},
	}
	for i, step := range steps {
		clock.Advance(step.advance)
		got := describe()
		for k, want := range step.want {
			if got[k] != want {
				t.Errorf("step %d: %s = %s, want %s", i, k, got[k], want)
			}
		}
		if i == 0 {
			if again := client.call("cvm", "RebootInstances", `{"InstanceIds":["ins-portdown"]}`); again.code() != "UnsupportedOperation.InstanceStateRebooting" {
				t.Errorf("reboot while rebooting: %q, want UnsupportedOperation.InstanceStateRebooting", again.code())
			}
		}
	}
	conn, err := sim.Dialer().DialContext(context.Background(), "tcp", "127.0.0.22:22")
	if err != nil {
		t.Fatalf("after the reboot: %v, want sshd listening again", err)
	}
	conn.Close()
}

func TestRebootClearsLoad(t *testing.T) {
	clock := newFakeClock()
	sim, client := startSim(t, clock, Options{RebootDuration: 50 * time.Millisecond})
	client.mustCall("cvm", "RebootInstances", `{"InstanceIds":["ins-cpuhigh1","ins-memhigh1"]}`, nil)
	clock.Advance(50 * time.Millisecond)
	for _, id := range []string{"ins-cpuhigh1", "ins-memhigh1"} {
		sc, _ := sim.Scenario(id)
		if sc.CPU > idleCPU || sc.Memory > idleMemory || sc.State != stateRunning {
			t.Errorf("%s after reboot: state %s, CPU %v, memory %v; want RUNNING at idle levels", id, sc.State, sc.CPU, sc.Memory)
		}
	}
	clock.Advance(10 * time.Minute)
	var out struct{ DataPoints []struct{ Values []float64 } }
	client.mustCall("monitor", "GetMonitorData", metricParams("CPUUsage", "ins-cpuhigh1", 60), &out)
	for _, v := range out.DataPoints[0].Values {
		if v > idleCPU*(1+curveAmplitude) {
			t.Errorf("CPU %v after the reboot, want about %v", v, idleCPU)
		}
	}
}

func TestStartAndStopTransitions(t *testing.T) {
	clock := newFakeClock()
	sim, client := startSim(t, clock, Options{RebootDuration: time.Second})
	client.mustCall("cvm", "StartInstances", `{"InstanceIds":["ins-stopped1"]}`, nil)
	client.mustCall("cvm", "StopInstances", `{"InstanceIds":["ins-linux001"]}`, nil)
	for id, want := range map[string]string{"ins-stopped1": "STARTING", "ins-linux001": "STOPPING"} {
		if sc, _ := sim.Scenario(id); sc.State != want {
			t.Errorf("%s: %s, want %s", id, sc.State, want)
		}
	}
	clock.Advance(time.Second)
	for id, want := range map[string]string{"ins-stopped1": "RUNNING", "ins-linux001": "STOPPED"} {
		if sc, _ := sim.Scenario(id); sc.State != want {
			t.Errorf("%s: %s, want %s", id, sc.State, want)
		}
	}
	if r := client.call("cvm", "RebootInstances", `{"InstanceIds":["ins-stopped1","ins-linux001"]}`); r.code() != "UnsupportedOperation.InstanceStateStopped" {
		t.Errorf("reboot with one stopped instance: %q, want UnsupportedOperation.InstanceStateStopped", r.code())
	}
	if sc, _ := sim.Scenario("ins-stopped1"); sc.State != stateRunning {
		t.Errorf("a failed batch changed ins-stopped1 to %s", sc.State)
	}
}

func TestPascalCase(t *testing.T) {
	for in, want := range map[string]string{"STOPPED": "Stopped", "ENTER_RESCUE_MODE": "EnterRescueMode", "SHUTDOWN": "Shutdown"} {
		if got := pascalCase(in); got != want {
			t.Errorf("pascalCase(%s) = %s, want %s", in, got, want)
		}
	}
}
