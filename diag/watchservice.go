package diag

import (
	"context"
	_ "embed"
	"fmt"
	"time"
)

//go:embed guestchecks/linux_service.sh
var linuxServiceScript string

//go:embed guestchecks/windows_service.ps1
var windowsServiceScript string

// GuestTarget is the guest whose login service a login watch checks through
// TAT.
type GuestTarget struct {
	Region     string
	InstanceID string
	OS         string // OSLinux or OSWindows
	Port       int    // the login port
}

// LoginServiceCommand returns the TAT command of the read-only login-service
// script for g: the login service's state and whether the login port
// listens. The port comes from the diagnosis, never from a chat message, and
// is validated again before it is written into the script.
func LoginServiceCommand(g GuestTarget) (Command, error) {
	p := RepairParams{Port: g.Port}
	if err := p.validate(); err != nil {
		return Command{}, fmt.Errorf("login service check: %w", err)
	}
	cmd := Command{InstanceID: g.InstanceID, Name: "cvmlogin-login-service"}
	if g.OS == OSWindows {
		cmd.Type, cmd.Script = "POWERSHELL", p.powershellHeader()+windowsServiceScript
	} else {
		cmd.Type, cmd.Script = "SHELL", "#!/bin/sh\n"+p.shellHeader()+linuxServiceScript
	}
	return cmd, nil
}

// ServiceCheck is what one in-guest check of the login service found.
type ServiceCheck struct {
	// Facts are the script's: the login service, its state and socket,
	// ListeningPorts (the login port when it listens, else empty), and
	// RDPDenied on Windows.
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

// CheckLoginService runs the login-service script in g's guest within
// timeout, polling its task from poll on. A check that cannot run or whose
// output makes no sense has Err set.
func CheckLoginService(ctx context.Context, guest GuestAPI, g GuestTarget, timeout, poll time.Duration) ServiceCheck {
	cmd, err := LoginServiceCommand(g)
	if err != nil {
		return ServiceCheck{Err: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd.Timeout = timeout
	out, err := runCommand(ctx, guest, g.Region, cmd, poll)
	if err != nil {
		return ServiceCheck{Err: err.Error()}
	}
	facts, err := ParseGuestFacts(out)
	if err != nil {
		return ServiceCheck{Err: err.Error()}
	}
	return ServiceCheck{Facts: facts}
}
