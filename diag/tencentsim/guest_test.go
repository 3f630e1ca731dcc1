package tencentsim

import (
	"encoding/base64"
	"fmt"
	"testing"
)

// TestParseScript: the simulated guest reads a script's marker and the
// parameter lines cvmlogin writes, in shell and PowerShell.
func TestParseScript(t *testing.T) {
	tests := []struct {
		name, text, want string
		params           map[string]string
	}{
		{"shell repair", "#!/bin/sh\nCVMLOGIN_PORT='22'\nCVMLOGIN_USER='root'\nCVMLOGIN_FIX_ID='abc'\nCVMLOGIN_MECHANISM=''\n# helpers\n# cvmlogin-script: open_guest_firewall\n",
			scriptOpenFirewall, map[string]string{"PORT": "22", "USER": "root", "FIX_ID": "abc", "MECHANISM": ""}},
		{"powershell repair", "$CvmloginPort = 3389\r\n$CvmloginFixId = 'abc'\r\n$CvmloginMechanism = 'windows'\r\n# cvmlogin-script: undo_guest_firewall\r\n",
			scriptUndoFirewall, map[string]string{"PORT": "3389", "FIX_ID": "abc", "MECHANISM": "windows"}},
		{"the read-only guest script", "#!/bin/sh\n# cvmlogin read-only login diagnosis. Changes nothing.\n", "", map[string]string{}},
	}
	for _, tc := range tests {
		sc := parseScript(base64.StdEncoding.EncodeToString([]byte(tc.text)))
		if sc.name != tc.want || fmt.Sprint(sc.params) != fmt.Sprint(tc.params) {
			t.Errorf("%s: %q %v, want %q %v", tc.name, sc.name, sc.params, tc.want, tc.params)
		}
	}
}
