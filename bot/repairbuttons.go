package bot

import (
	"fmt"
	"strconv"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/diag"
)

// repairButtonLook returns the look of a guest repair's button (design.md
// B7): its label is its title in fixTitles, and its confirm dialog says what
// the script changes inside the guest. ok is false for other actions.
func repairButtonLook(id string, target fixTarget) (buttonLook, bool) {
	port := "the login port"
	if target.port != 0 {
		port = "TCP " + strconv.Itoa(target.port)
	}
	inside := "Runs a script inside " + target.instance + " through TAT that "
	texts := map[diag.FixAction]string{
		diag.FixRestartLoginService: inside + "restarts the login service (sshd, or Remote Desktop Services on Windows); sshd is not restarted if its configuration is invalid.",
		diag.FixOpenGuestFirewall:   inside + "allows " + port + " in the guest's own firewall, with a rule cvmlogin can remove again.",
		diag.FixFixAuthorizedKeys:   inside + "sets ~/.ssh to 700 and authorized_keys to 600, owned by the login user. No key is read or changed.",
		diag.FixEnableRDP:           inside + "allows Remote Desktop connections (fDenyTSConnections=0) and enables its firewall rules.",
	}
	action := diag.FixAction(id)
	text, ok := texts[action]
	if !ok {
		return buttonLook{}, false
	}
	title := fixTitles[action]
	return buttonLook{title, slack.StylePrimary, &confirmDialog{title: fmt.Sprintf("%s?", title), text: text, ok: title}}, true
}
