package diag

import (
	"context"
	"time"
)

// GuestTarget is the guest whose login service a login watch checks through
// TAT.
type GuestTarget struct {
	Region     string
	InstanceID string
	OS         string // OSLinux or OSWindows
	Port       int    // the login port
}

// ServiceCheck is what one in-guest check of the login service found.
type ServiceCheck struct {
	// Facts are the read-only guest script's, as the diagnosis reads them
	// for guest.login_service: the login service, its state and socket,
	// the listening ports, and RDPDenied on Windows.
	Facts GuestFacts
	// Err says why the check could not tell; Facts is then empty.
	Err string
}

// Running reports whether the login service runs and holds the login port,
// by itself or through its systemd socket, as guest.login_service judges it.
func (c ServiceCheck) Running(port int) bool {
	f := c.Facts
	return c.Err == "" && !f.RDPDenied && f.Listening(port) && (f.ServiceUp() || f.LoginSocket != "")
}

// CheckLoginService runs the diagnosis's read-only guest script (an
// embedded script, nothing from a chat message) in g's guest within
// timeout, polling its task from poll on, so that a watch judges the login
// service exactly as the report does. A check that cannot run or whose
// output makes no sense has Err set.
func CheckLoginService(ctx context.Context, guest GuestAPI, g GuestTarget, timeout, poll time.Duration) ServiceCheck {
	// A watch has no diagnosis deadline to bound the wait for the request
	// budget before the script starts: allow that as long as the script.
	ctx, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	facts, err := guestFacts(ctx, guest, g.Region, g.OS, g.InstanceID, timeout, poll)
	if err != nil {
		return ServiceCheck{Err: err.Error()}
	}
	return ServiceCheck{Facts: facts}
}
