package tencentsim

import (
	"fmt"
	"slices"
	"strconv"
)

// scriptLoginService is the marker of the login service check a login watch
// runs: the service's state and whether the login port listens.
const scriptLoginService = "login-service"

// loginServiceCheck is what the login service check prints: the login
// service, its state and socket, listening_ports holding the port asked
// about when it is in LISTEN state (else empty), and rdp_denied.
func (in *instance) loginServiceCheck(sc script) string {
	g, windows := in.sc.Guest, in.sc.OS == osWindows
	port, _ := strconv.Atoi(sc.params["PORT"])
	listening := ""
	if slices.Contains(in.listeningPorts(), port) {
		listening = strconv.Itoa(port)
	}
	return facts(
		[2]string{"os", in.sc.OS},
		[2]string{"login_service", g.loginService(in.sc.OS)},
		[2]string{"login_service_state", serviceState(windows, g.LoginServiceUp)},
		[2]string{"login_socket", g.LoginSocket},
		[2]string{"listening_ports", listening},
		[2]string{"rdp_denied", strconv.FormatBool(g.RDPDenied)},
	)
}

// SetLoginService starts (up true) or stops the login service of the
// instance id, as someone at its console would: sshd or TermService comes
// up, and with it the login port, or goes down. It fails for an unknown
// instance.
func (s *Sim) SetLoginService(id string, up bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	for _, in := range s.instances {
		if in.sc.ID == id {
			in.sc.Guest.LoginServiceUp = up
			return nil
		}
	}
	return fmt.Errorf("tencentsim: no instance %s", id)
}
