package tencentsim

import (
	"encoding/base64"
	"fmt"
	"testing"
)

// runServiceCheck runs a login service check for port on instanceID
// through RunCommand and DescribeInvocationTasks, and returns its facts.
func runServiceCheck(t *testing.T, client *testClient, instanceID, commandType string, port int) map[string]string {
	t.Helper()
	header := fmt.Sprintf("#!/bin/sh\nCVMLOGIN_PORT='%d'\n", port)
	if commandType == "POWERSHELL" {
		header = fmt.Sprintf("$CvmloginPort = %d\r\n", port)
	}
	content := base64.StdEncoding.EncodeToString([]byte(header + "# cvmlogin-script: login-service\n"))
	var out struct{ InvocationId string }
	client.mustCall("tat", "RunCommand", fmt.Sprintf(`{"InstanceIds":[%q],"CommandType":%q,"Content":%q}`, instanceID, commandType, content), &out)
	for {
		task := pollTasks(t, client, out.InvocationId, `,"HideOutput":false`).InvocationTaskSet[0]
		if task.TaskStatus == "SUCCESS" {
			return decodeFacts(t, *task.TaskResult.Output)
		}
	}
}

// TestLoginServiceCheck: the login service check reports the service's
// state and whether the port asked about listens, and follows the service
// as it is stopped and started.
func TestLoginServiceCheck(t *testing.T) {
	sim, client := startSim(t, newFakeClock(), Options{})
	tests := []struct {
		name, id, commandType string
		port                  int
		up                    *bool // set the service first; nil leaves it
		want                  string
	}{
		{"sshd stopped", "ins-portdown", "SHELL", 22, nil, "map[listening_ports: login_service:sshd login_service_state:inactive login_socket: os:linux rdp_denied:false]"},
		{"sshd started", "ins-portdown", "SHELL", 22, ptr(true), "map[listening_ports:22 login_service:sshd login_service_state:active login_socket: os:linux rdp_denied:false]"},
		{"another port", "ins-portdown", "SHELL", 2222, nil, "map[listening_ports: login_service:sshd login_service_state:active login_socket: os:linux rdp_denied:false]"},
		{"sshd stopped again", "ins-linux001", "SHELL", 22, ptr(false), "map[listening_ports: login_service:sshd login_service_state:inactive login_socket: os:linux rdp_denied:false]"},
		{"socket-activated ssh", "ins-sshsock1", "SHELL", 22, nil, "map[listening_ports:22 login_service:ssh login_service_state:inactive login_socket:ssh.socket os:linux rdp_denied:false]"},
		{"TermService stopped", "ins-rdpdown1", "POWERSHELL", 3389, nil, "map[listening_ports: login_service:TermService login_service_state:stopped login_socket: os:windows rdp_denied:false]"},
		{"Remote Desktop denied", "ins-rdpoff01", "POWERSHELL", 3389, nil, "map[listening_ports: login_service:TermService login_service_state:running login_socket: os:windows rdp_denied:true]"},
	}
	for _, tc := range tests {
		if tc.up != nil {
			if err := sim.SetLoginService(tc.id, *tc.up); err != nil {
				t.Fatal(err)
			}
		}
		if got := fmt.Sprint(runServiceCheck(t, client, tc.id, tc.commandType, tc.port)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	if err := sim.SetLoginService("ins-nothere", true); err == nil {
		t.Error("SetLoginService of an unknown instance succeeded")
	}
}
