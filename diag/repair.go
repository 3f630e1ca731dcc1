package diag

import (
	"embed"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/textclip"
)

// The guest repair fix actions (design.md B7). Each runs one embedded script
// through TAT, behind the same approval as every fix.
const (
	FixRestartLoginService FixAction = "restart_login_service"
	FixOpenGuestFirewall   FixAction = "open_guest_firewall"
	FixFixAuthorizedKeys   FixAction = "fix_authorized_keys"
	FixEnableRDP           FixAction = "enable_rdp"
	// FixUndoGuestFirewall removes exactly the rule an open_guest_firewall
	// added.
	FixUndoGuestFirewall FixAction = "undo_guest_firewall"
)

// The results a repair script reports (RepairOutcome.Result).
const (
	RepairChanged   = "changed"   // the script changed the guest
	RepairUnchanged = "unchanged" // there was nothing to change
	RepairRefused   = "refused"   // the script found it unsafe or impossible, and changed nothing
	RepairFailed    = "failed"    // the change was attempted and did not work
)

//go:embed repairs
var repairScripts embed.FS

// repairFiles names each repair's script per OS; a missing entry means the
// repair does not apply to that OS.
var repairFiles = map[FixAction]map[string]string{
	FixRestartLoginService: {OSLinux: "restart_login_service.sh", OSWindows: "restart_login_service.ps1"},
	FixOpenGuestFirewall:   {OSLinux: "open_guest_firewall.sh", OSWindows: "open_guest_firewall.ps1"},
	FixUndoGuestFirewall:   {OSLinux: "undo_guest_firewall.sh", OSWindows: "undo_guest_firewall.ps1"},
	FixFixAuthorizedKeys:   {OSLinux: "fix_authorized_keys.sh"},
	FixEnableRDP:           {OSWindows: "enable_rdp.ps1"},
}

// IsGuestRepair reports whether a is a guest repair action.
func IsGuestRepair(a FixAction) bool { _, ok := repairFiles[a]; return ok }

// RepairParams are a repair script's inputs. They come from the diagnosis
// and the fix request (login port, the image's login user, the fix ID),
// never from what someone typed, and are validated again before they are
// written into the script.
type RepairParams struct {
	Port int
	User string
	// FixID tags what the repair adds (rules named cvmlogin:<FixID>).
	FixID string
	// Mechanism is what an open_guest_firewall used (firewalld, ufw,
	// iptables, windows): the undo needs it.
	Mechanism string
}

var (
	loginUserShape = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	fixIDShape     = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	mechanisms     = []string{"", "firewalld", "ufw", "iptables", "windows"}
)

// repairTimeout bounds a repair script on the instance.
const repairTimeout = 60 * time.Second

// RepairCommand returns the TAT command that runs repair action a on an
// instance with operating system os.
func RepairCommand(a FixAction, os, instanceID string, p RepairParams) (Command, error) {
	file, ok := repairFiles[a][os]
	if !ok {
		return Command{}, fmt.Errorf("%s does not apply to %s instances", a, os)
	}
	if err := p.validate(); err != nil {
		return Command{}, fmt.Errorf("%s: %w", a, err)
	}
	dir := "repairs/" + os + "/"
	common, err := repairScripts.ReadFile(dir + commonFile(os))
	if err != nil {
		return Command{}, err
	}
	body, err := repairScripts.ReadFile(dir + file)
	if err != nil {
		return Command{}, err
	}
	cmd := Command{InstanceID: instanceID, Timeout: repairTimeout, Name: "cvmlogin-" + string(a)}
	if os == OSWindows {
		cmd.Type = "POWERSHELL"
		cmd.Script = p.powershellHeader() + string(common) + string(body)
	} else {
		cmd.Type = "SHELL"
		cmd.Script = "#!/bin/sh\n" + p.shellHeader() + string(common) + string(body)
	}
	return cmd, nil
}

func commonFile(os string) string {
	if os == OSWindows {
		return "common.ps1"
	}
	return "common.sh"
}

func (p RepairParams) validate() error {
	switch {
	case p.Port < 0 || p.Port > 65535:
		return fmt.Errorf("port %d is out of range", p.Port)
	case p.User != "" && !loginUserShape.MatchString(p.User):
		return fmt.Errorf("%q is not a login user name", p.User)
	case p.FixID != "" && !fixIDShape.MatchString(p.FixID):
		return fmt.Errorf("%q is not a fix ID", p.FixID)
	}
	for _, m := range mechanisms {
		if p.Mechanism == m {
			return nil
		}
	}
	return fmt.Errorf("%q is not a firewall mechanism", p.Mechanism)
}

// shellHeader assigns the validated parameters; the values are known to hold
// no quote or shell syntax, and are quoted all the same.
func (p RepairParams) shellHeader() string {
	return fmt.Sprintf("CVMLOGIN_PORT='%d'\nCVMLOGIN_USER='%s'\nCVMLOGIN_FIX_ID='%s'\nCVMLOGIN_MECHANISM='%s'\n",
		p.Port, p.User, p.FixID, p.Mechanism)
}

func (p RepairParams) powershellHeader() string {
	return fmt.Sprintf("$CvmloginPort = %d\n$CvmloginFixId = '%s'\n$CvmloginMechanism = '%s'\n", p.Port, p.FixID, p.Mechanism)
}

// RepairOutcome is what a repair script reported.
type RepairOutcome struct {
	Result string // RepairChanged, RepairUnchanged, RepairRefused or RepairFailed
	Detail string
	// Undo says what an undo needs (the firewall mechanism used), or "".
	Undo string
	// Before is the state before the change, for the audit trail.
	Before string
}

// ParseRepairOutcome parses a repair script's output. Output without a
// result line means the script did not finish: that is an error, never a
// success.
func ParseRepairOutcome(out string) (RepairOutcome, error) {
	var o RepairOutcome
	scanFacts(out, func(key, value string) bool {
		field, ok := map[string]*string{"repair_result": &o.Result, "repair_detail": &o.Detail,
			"repair_undo": &o.Undo, "repair_before": &o.Before}[key]
		if ok {
			*field = value
		}
		return ok
	})
	switch o.Result {
	case RepairChanged, RepairUnchanged, RepairRefused, RepairFailed:
		return o, nil
	}
	return o, fmt.Errorf("the repair script did not report its result (output starts %s)", strconv.Quote(textclip.Bytes(out, 80)))
}
