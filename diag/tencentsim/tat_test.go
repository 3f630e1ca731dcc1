package tencentsim

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

type tasksResponse struct {
	TotalCount        int
	InvocationTaskSet []struct {
		InvocationTaskId string
		TaskStatus       string
		InstanceId       string
		TaskResult       struct {
			ExitCode int
			Output   *string
		}
	}
}

func runScript(t *testing.T, client *testClient, instanceID, commandType string) string {
	t.Helper()
	content := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho cvmlogin.os=linux\n"))
	var out struct{ InvocationId, CommandId string }
	client.mustCall("tat", "RunCommand", fmt.Sprintf(`{"InstanceIds":[%q],"CommandType":%q,"Content":%q}`, instanceID, commandType, content), &out)
	if len(out.InvocationId) != len("inv-12345678") || len(out.CommandId) != len("cmd-12345678") {
		t.Fatalf("RunCommand returned %+v, want inv-/cmd- IDs", out)
	}
	return out.InvocationId
}

func pollTasks(t *testing.T, client *testClient, invocationID, hideOutput string) tasksResponse {
	t.Helper()
	params := fmt.Sprintf(`{"Filters":[{"Name":"invocation-id","Values":[%q]}]%s}`, invocationID, hideOutput)
	var out tasksResponse
	client.mustCall("tat", "DescribeInvocationTasks", params, &out)
	if out.TotalCount != 1 || len(out.InvocationTaskSet) != 1 {
		t.Fatalf("invocation %s: %+v, want one task", invocationID, out)
	}
	return out
}

func TestInvocationHidesOutputByDefault(t *testing.T) {
	_, client := startSim(t, newFakeClock(), Options{})
	inv := runScript(t, client, "ins-diskful1", "SHELL")
	tests := []struct {
		name, hideOutput string
		wantStatus       string
		wantOutput       bool
	}{
		{"first poll runs", `,"HideOutput":false`, "RUNNING", true},
		{"HideOutput defaults to true", ``, "SUCCESS", false},
		{"HideOutput true", `,"HideOutput":true`, "SUCCESS", false},
		{"HideOutput false", `,"HideOutput":false`, "SUCCESS", true},
	}
	for _, tt := range tests {
		task := pollTasks(t, client, inv, tt.hideOutput).InvocationTaskSet[0]
		if task.TaskStatus != tt.wantStatus || (task.TaskResult.Output != nil) != tt.wantOutput {
			t.Errorf("%s: status %s, output present %v; want %s, %v", tt.name, task.TaskStatus, task.TaskResult.Output != nil, tt.wantStatus, tt.wantOutput)
		}
		if task.TaskStatus != "SUCCESS" || !tt.wantOutput {
			continue
		}
		facts := decodeFacts(t, *task.TaskResult.Output)
		if facts["disk_used_percent"] != "99" || facts["login_service_state"] != "active" || facts["listening_ports"] != "22" || task.TaskResult.ExitCode != 0 {
			t.Errorf("%s: facts %+v, exit %d; want disk 99%%, sshd up on 22, exit 0", tt.name, facts, task.TaskResult.ExitCode)
		}
	}
}

func TestInvocationPollsAndWindowsFacts(t *testing.T) {
	sim, client := startSim(t, newFakeClock(), Options{})
	slow := DefaultScenario()
	slow.ID, slow.OS, slow.InvocationPolls, slow.Guest.LoginServiceUp = "ins-slowtat1", osWindows, 3, false
	slow.Guest.ListeningPorts = []int{3389, 5985}
	if err := sim.AddScenario(slow); err != nil {
		t.Fatal(err)
	}
	inv := runScript(t, client, "ins-slowtat1", "POWERSHELL")
	var statuses []string
	var last tasksResponse
	for range 4 {
		last = pollTasks(t, client, inv, `,"HideOutput":false`)
		statuses = append(statuses, last.InvocationTaskSet[0].TaskStatus)
	}
	if want := []string{"RUNNING", "RUNNING", "RUNNING", "SUCCESS"}; !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	facts := decodeFacts(t, *last.InvocationTaskSet[0].TaskResult.Output)
	want := map[string]string{"os": "windows", "login_service": "TermService", "login_service_state": "stopped", "login_socket": "",
		"listening_ports": "5985", "disk_used_percent": "40", "inode_used_percent": "-1", "rdp_denied": "false"}
	if fmt.Sprint(facts) != fmt.Sprint(want) {
		t.Errorf("facts %+v, want %+v", facts, want)
	}
}

// decodeFacts reads the "cvmlogin.<key>=<value>" lines of a task's output.
func decodeFacts(t *testing.T, output string) map[string]string {
	t.Helper()
	text, err := base64.StdEncoding.DecodeString(output)
	if err != nil {
		t.Fatalf("output is not base64: %v", err)
	}
	facts := map[string]string{}
	for line := range strings.Lines(string(text)) {
		key, value, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cvmlogin."), "=")
		if !ok || !strings.HasPrefix(line, "cvmlogin.") {
			t.Fatalf("output line %q is not cvmlogin.<key>=<value>", line)
		}
		facts[key] = value
	}
	return facts
}
