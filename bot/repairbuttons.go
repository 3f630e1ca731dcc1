package bot

import (
	"strconv"

	"github.com/cvmlogin/cvmlogin/diag"
)

// repairConfirm returns the confirm dialog of a guest repair's button
// (design.md B7): what the script changes inside the guest. ok is false for
// other actions.
func repairConfirm(action diag.FixAction, target fixTarget) (confirmDialog, bool) {
	port := "the login port"
	if target.port != 0 {
		port = "TCP " + strconv.Itoa(target.port)
	}
	inside := "Runs a script inside " + target.instance + " through TAT that "
	texts := map[diag.FixAction]string{
		diag.FixRestartLoginService: inside + "restarts the login service (sshd, or Remote Desktop Services on Windows); sshd is not restarted if its configuration is invalid.",
		diag.FixOpenGuestFirewall:   inside + "allows " + port + " in the guest's own firewall, with a rule cvmlogin can remove again.",
		diag.FixUndoGuestFirewall:   inside + "removes the rule cvmlogin added to the guest's own firewall.",
		diag.FixFixAuthorizedKeys:   inside + "sets ~/.ssh to 700 and authorized_keys to 600, owned by the login user. No key is read or changed.",
		diag.FixEnableRDP:           inside + "allows Remote Desktop connections (fDenyTSConnections=0) and enables its firewall rules.",
	}
	text, ok := texts[action]
	if !ok {
		return confirmDialog{}, false
	}
	label := action.Label(target.port)
	return confirmDialog{label + "?", text, label}, true
}
