package tencentsim

import "fmt"

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
