package bot

import (
	"strconv"

	"github.com/cvmlogin/cvmlogin/diag"
)

// repairConfirm returns the confirm dialog of a guest repair's button
// (design.md B7): what the script changes inside the guest, in the terms of
// the instance's OS when the report knows it. ok is false for other actions.
func repairConfirm(action diag.FixAction, target fixTarget) (confirmDialog, bool) {
	text, ok := repairEffects(target)[action]
	if !ok {
		return confirmDialog{}, false
	}
	label := action.Label(target.port)
	return confirmDialog{label + "?", "Runs a script inside " + target.instance + " through TAT that " + text, label}, true
}

// repairEffects say what each guest repair's script does on target.
func repairEffects(target fixTarget) map[diag.FixAction]string {
	port := "the login port"
	if target.port != 0 {
		port = "TCP " + strconv.Itoa(target.port)
	}
	restart := "restarts the login service (sshd, or Remote Desktop Services on Windows); sshd is not restarted if its configuration is invalid."
	firewall := "the guest's own firewall"
	switch target.os {
	case diag.OSLinux:
		restart = "restarts sshd; it is not restarted if its configuration is invalid, since it would not come back."
		firewall = "the guest's own firewall (firewalld, ufw or iptables)"
	case diag.OSWindows:
		restart = "restarts Remote Desktop Services (TermService); open Remote Desktop sessions are disconnected."
		firewall = "Windows Firewall"
	}
	return map[diag.FixAction]string{
		diag.FixRestartLoginService: restart,
		diag.FixOpenGuestFirewall:   "allows " + port + " in " + firewall + ", with a rule cvmlogin can remove again.",
		diag.FixUndoGuestFirewall:   "removes the rule cvmlogin added to " + firewall + ".",
		diag.FixFixAuthorizedKeys:   "sets ~/.ssh to 700 and authorized_keys to 600, owned by the login user, and removes group and other write permission from the home directory. No key is read or changed.",
		diag.FixEnableRDP:           "allows Remote Desktop connections (fDenyTSConnections=0) and enables the Remote Desktop rules of Windows Firewall.",
	}
}
