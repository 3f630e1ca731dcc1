package tencent

import (
	"context"
	"encoding/base64"
	"reflect"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

func TestAgentStatus(t *testing.T) {
	tests := []struct {
		name, fields string
		want         diag.Agent
	}{
		{"online", `"AutomationAgentSet": [{"InstanceId": "ins-abc12345", "Version": "1.1.5", "LastHeartbeatTime": "2026-05-01T10:00:00+08:00",
		  "AgentStatus": "Online", "Environment": "Linux", "SupportFeatures": ["FILE_UPLOAD"]}], "TotalCount": 1`,
			diag.Agent{Found: true, Status: "Online", Environment: "Linux", Version: "1.1.5", LastHeartbeat: "2026-05-01T10:00:00+08:00"}},
		{"no agent record", `"AutomationAgentSet": [], "TotalCount": 0`, diag.Agent{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on("DescribeAutomationAgentStatus", success(tt.fields))
			c := newTestClient(t, f, nil, nil)

			got, err := c.AgentStatus(context.Background(), testRegion, "ins-abc12345")
			if err != nil || got != tt.want {
				t.Errorf("AgentStatus = %+v, %v; want %+v, nil", got, err, tt.want)
			}
			if body := jsonOf(t, f.only().body); body != `{"InstanceIds":["ins-abc12345"],"Limit":100}` {
				t.Errorf("request body %s", body)
			}
		})
	}
}

func TestRunCommand(t *testing.T) {
	tests := []struct {
		timeout     time.Duration
		wantTimeout float64
	}{
		{30 * time.Second, 30},
		{1500 * time.Millisecond, 2},
		{0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.timeout.String(), func(t *testing.T) {
			f := newFakeCloud(t)
			f.on("RunCommand", success(`"CommandId": "cmd-12345678", "InvocationId": "inv-12345678"`))
			c := newTestClient(t, f, nil, nil)
			script := "systemctl is-active sshd\nss -ltn\n"

			id, err := c.RunCommand(context.Background(), testRegion, diag.Command{
				InstanceID: "ins-abc12345", Type: "SHELL", Script: script, Timeout: tt.timeout, Name: "cvmlogin-login-service",
			})
			if err != nil || id != "inv-12345678" {
				t.Fatalf("RunCommand = %q, %v; want inv-12345678, nil", id, err)
			}
			body := f.only().body
			want := map[string]any{
				"InstanceIds": []any{"ins-abc12345"},
				"CommandType": "SHELL",
				"Content":     base64.StdEncoding.EncodeToString([]byte(script)),
				"Timeout":     tt.wantTimeout,
				"CommandName": "cvmlogin-login-service",
			}
			if !reflect.DeepEqual(body, want) {
				t.Errorf("request body %v, want %v", body, want)
			}
		})
	}
}

func TestRunCommandWithoutInvocationID(t *testing.T) {
	f := newFakeCloud(t)
	f.on("RunCommand", success(`"CommandId": "cmd-12345678"`))
	c := newTestClient(t, f, nil, nil)
	_, err := c.RunCommand(context.Background(), testRegion, diag.Command{InstanceID: "ins-abc12345", Type: "SHELL", Script: "true"})
	if diag.KindOf(err) != diag.KindUnavailable {
		t.Errorf("RunCommand: %v, want kind unavailable", err)
	}
}

func TestInvocationTasks(t *testing.T) {
	output := "active\nLISTEN 0 128 0.0.0.0:22\n"
	f := newFakeCloud(t)
	f.on("DescribeInvocationTasks", success(`"TotalCount": 2, "InvocationTaskSet": [
	  {"InvocationId": "inv-12345678", "InvocationTaskId": "invt-11111111", "CommandId": "cmd-12345678",
	   "TaskStatus": "SUCCESS", "InstanceId": "ins-abc12345",
	   "TaskResult": {"ExitCode": 0, "Output": "`+base64.StdEncoding.EncodeToString([]byte(output))+`", "Dropped": 0,
	                  "ExecStartTime": "2026-05-01T10:00:00+08:00", "ExecEndTime": "2026-05-01T10:00:01+08:00"},
	   "ErrorInfo": ""},
	  {"InvocationId": "inv-12345678", "InvocationTaskId": "invt-22222222", "TaskStatus": "FAILED", "InstanceId": "ins-def12345",
	   "TaskResult": {"ExitCode": 3, "Output": "not base64!"}, "ErrorInfo": "the command failed"}]`))
	c := newTestClient(t, f, nil, nil)

	got, err := c.InvocationTasks(context.Background(), testRegion, "inv-12345678")
	if err != nil {
		t.Fatalf("InvocationTasks: %v", err)
	}
	want := []diag.InvocationTask{
		{TaskID: "invt-11111111", InstanceID: "ins-abc12345", Status: "SUCCESS", Output: output},
		{TaskID: "invt-22222222", InstanceID: "ins-def12345", Status: "FAILED", ExitCode: 3, Output: "not base64!", ErrorInfo: "the command failed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("InvocationTasks =\n%+v\nwant\n%+v", got, want)
	}
	wantBody := `{"Filters":[{"Name":"invocation-id","Values":["inv-12345678"]}],"HideOutput":false,"Limit":100}`
	if body := jsonOf(t, f.only().body); body != wantBody {
		t.Errorf("request body %s, want %s", body, wantBody)
	}
}

// TestInvocationTasksReadsEveryPage: when the invocations have more tasks
// than a page holds, the next pages are read from their offset.
func TestInvocationTasksReadsEveryPage(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeInvocationTasks",
		success(`"TotalCount": 3, "InvocationTaskSet": [
		  {"InvocationId": "inv-12345678", "InvocationTaskId": "invt-11111111", "InstanceId": "ins-abc12345", "TaskStatus": "RUNNING"},
		  {"InvocationId": "inv-12345678", "InvocationTaskId": "invt-22222222", "InstanceId": "ins-def12345", "TaskStatus": "RUNNING"}]`),
		success(`"TotalCount": 3, "InvocationTaskSet": [
		  {"InvocationId": "inv-12345678", "InvocationTaskId": "invt-33333333", "InstanceId": "ins-ghi12345", "TaskStatus": "SUCCESS"}]`))
	c := newTestClient(t, f, nil, nil)

	got, err := c.InvocationTasks(context.Background(), testRegion, "inv-12345678")
	if err != nil || len(got) != 3 || got[2].TaskID != "invt-33333333" {
		t.Fatalf("InvocationTasks = %+v, %v; want the 3 tasks of both pages", got, err)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[1].body["Offset"] != float64(2) {
		t.Errorf("requests %+v, want 2, the second from offset 2", reqs)
	}
}
