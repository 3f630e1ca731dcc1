package diag

import (
	"strings"
	"testing"
)

// The samples are what the clients print, word for word.
func TestClassifySymptom(t *testing.T) {
	tests := []struct {
		client, text string
		want         SymptomFamily
	}{
		{"OpenSSH Linux", "ssh: connect to host 203.0.113.7 port 22: Connection refused", SymptomSSHRefused},
		{"PuTTY", "Network error: Connection refused", SymptomSSHRefused},
		{"OpenSSH Linux", "ssh: connect to host 203.0.113.7 port 22: Connection timed out", SymptomSSHTimeout},
		{"OpenSSH macOS", "ssh: connect to host 203.0.113.7 port 22: Operation timed out", SymptomSSHTimeout},
		{"PuTTY", "Network error: Connection timed out", SymptomSSHTimeout},
		{"OpenSSH", "ssh: connect to host 203.0.113.7 port 22: No route to host", SymptomSSHTimeout},
		{"OpenSSH", "root@203.0.113.7: Permission denied (publickey).", SymptomSSHPublicKey},
		{"OpenSSH CentOS", "ubuntu@203.0.113.7: Permission denied (publickey,gssapi-keyex,gssapi-with-mic).", SymptomSSHPublicKey},
		{"PuTTY", "No supported authentication methods available (server sent: publickey)", SymptomSSHPublicKey},
		{"PuTTY", "Server refused our key", SymptomSSHPublicKey},
		{"OpenSSH", "Permission denied, please try again.", SymptomSSHPassword},
		{"PuTTY", "Access denied", SymptomSSHPassword},
		{"OpenSSH", "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@", SymptomSSHHostKeyChanged},
		{"OpenSSH", "Host key verification failed.", SymptomSSHHostKeyChanged},
		{"OpenSSH", "Received disconnect from 203.0.113.7 port 22:2: Too many authentication failures", SymptomSSHTooManyAuth},
		{"OpenSSH 8+", "kex_exchange_identification: Connection closed by remote host", SymptomSSHClosed},
		{"OpenSSH 8+", "kex_exchange_identification: read: Connection reset by peer", SymptomSSHClosed},
		{"OpenSSH 7", "ssh_exchange_identification: Connection closed by remote host", SymptomSSHClosed},
		{"OpenSSH", "Connection reset by 203.0.113.7 port 22", SymptomSSHClosed},
		{"PuTTY", "Server unexpectedly closed network connection", SymptomSSHClosed},
		{"mstsc", "The connection was denied because the user account is not authorized for remote login.", SymptomRDPNotAuthorized},
		{"mstsc", "To sign in remotely, you need the right to sign in through Remote Desktop Services.", SymptomRDPNotAuthorized},
		{"mstsc", "An authentication error has occurred. The function requested is not supported. This could be due to CredSSP encryption oracle remediation.", SymptomRDPAuthError},
		{"mstsc", "The remote session was disconnected because there are no Remote Desktop License Servers available to provide a license.", SymptomRDPNoLicense},
		{"Mac client", "We couldn't connect to the remote PC. Make sure the PC is turned on and connected to the network, and that remote access is enabled. Error code: 0x204", SymptomRDPMacClient},
		{"Mac client", "Unable to connect to remote PC. Please verify Remote Desktop is enabled, the remote PC is turned on and available on the network, and then try again.", SymptomRDPMacClient},
		{"mstsc", "Remote Desktop can't connect to the remote computer for one of these reasons: 1) Remote access to the server is not enabled 2) The remote computer is turned off 3) The remote computer is not available on the network", SymptomRDPCannotConnect},
		{"anything", "it just hangs", SymptomUnknown},
	}
	for _, tt := range tests {
		t.Run(string(tt.want)+"/"+tt.client, func(t *testing.T) {
			got := ClassifySymptom(tt.text, OSLinux)
			if got == nil || got.Family != tt.want {
				t.Fatalf("ClassifySymptom(%q) = %+v, want family %s", tt.text, got, tt.want)
			}
			if got.DocURL == "" || !strings.HasPrefix(got.DocURL, docBase) {
				t.Errorf("doc URL %q is not a Tencent page", got.DocURL)
			}
			if got.Family != SymptomUnknown && (got.Advice == "" || len(got.Focus) == 0) {
				t.Errorf("family %s has no advice or focus", got.Family)
			}
		})
	}
}

func TestClassifySymptomCleansText(t *testing.T) {
	if got := ClassifySymptom(" \x00\x07 \n", OSLinux); got != nil {
		t.Errorf("blank text classified as %+v, want nil", got)
	}
	long := strings.Repeat("é", MaxSymptomText)
	got := ClassifySymptom("bad\x00 thing\n"+long, OSWindows)
	if strings.ContainsAny(got.Text, "\x00\n") || len(got.Text) > MaxSymptomText {
		t.Errorf("text not cleaned: %q (%d bytes)", got.Text[:20], len(got.Text))
	}
	if got.DocURL != DocWindowsLogin {
		t.Errorf("unknown Windows symptom links %s, want %s", got.DocURL, DocWindowsLogin)
	}
}

func TestSymptomRulesLinkDistinctRDPPages(t *testing.T) {
	pages := map[SymptomFamily]string{
		SymptomRDPNotAuthorized: docRDPNotAllowed,
		SymptomRDPAuthError:     docRDPAuthError,
		SymptomRDPMacClient:     docRDPMac,
		SymptomRDPCannotConnect: docRDPCannotReach,
	}
	for _, r := range symptomRules {
		if want, ok := pages[r.family]; ok && r.doc != want {
			t.Errorf("%s links %s, want %s", r.family, r.doc, want)
		}
	}
}

func TestFocusFirst(t *testing.T) {
	findings := []Finding{{Check: CheckInstanceFound}, {Check: CheckPortReachable}, {Check: CheckGuestLoginService}, {Check: CheckGuestDisk}}
	s := ClassifySymptom("Connection refused", OSLinux)
	got := s.FocusFirst(findings)
	want := []CheckID{CheckGuestLoginService, CheckPortReachable, CheckInstanceFound, CheckGuestDisk}
	for i, f := range got {
		if f.Check != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
	var none *Symptom
	if len(none.FocusFirst(findings)) != len(findings) {
		t.Error("nil symptom changed the findings")
	}
}
