package tencentsim

import (
	"context"
	"errors"
	"syscall"
	"testing"
)

// TestSetLoginService: stopping and starting the login service shows in the
// guest script's facts and at the login port.
func TestSetLoginService(t *testing.T) {
	sim, client := startSim(t, newFakeClock(), Options{})
	tests := []struct {
		name, id, commandType, address string
		up                             bool
		state, listening               string
	}{
		{"sshd started", "ins-portdown", "SHELL", "127.0.0.22:22", true, "active", "22"},
		{"sshd stopped", "ins-linux001", "SHELL", "127.0.0.11:22", false, "inactive", ""},
		{"TermService started", "ins-rdpdown1", "POWERSHELL", "127.0.0.28:3389", true, "running", "3389"},
	}
	for _, tc := range tests {
		if err := sim.SetLoginService(tc.id, tc.up); err != nil {
			t.Fatal(err)
		}
		inv := runScript(t, client, tc.id, tc.commandType)
		var facts map[string]string
		for facts == nil {
			if task := pollTasks(t, client, inv, `,"HideOutput":false`).InvocationTaskSet[0]; task.TaskStatus == "SUCCESS" {
				facts = decodeFacts(t, *task.TaskResult.Output)
			}
		}
		if facts["login_service_state"] != tc.state || facts["listening_ports"] != tc.listening {
			t.Errorf("%s: facts %v, want state %s, listening %q", tc.name, facts, tc.state, tc.listening)
		}
		conn, err := sim.Dialer().DialContext(context.Background(), "tcp", tc.address)
		if tc.up && err != nil || !tc.up && !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: dialling %s: %v", tc.name, tc.address, err)
		}
		if conn != nil {
			conn.Close()
		}
	}
	if err := sim.SetLoginService("ins-nothere", true); err == nil {
		t.Error("SetLoginService of an unknown instance succeeded")
	}
}
