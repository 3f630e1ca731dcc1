package tencentsim

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Call is one API call the Sim received, answered or not.
type Call struct {
	Service string // from the credential scope, e.g. "cvm"; "" if unreadable
	Action  string // X-TC-Action
	Region  string // X-TC-Region
	// Body is the request body; nil when it was not JSON.
	Body json.RawMessage
	Time time.Time // when it arrived, by the Sim's clock
	// ErrorCode is the error answered, "" for success. It is "ClientCanceled"
	// (not a Tencent code) when the client went away during injected
	// latency, before anything was done.
	ErrorCode string
	RequestID string
}

// SetFault makes every call to service's action answer the error code
// (e.g. "RequestLimitExceeded", "InternalError") after authentication. An
// empty code clears it.
func (s *Sim) SetFault(service, action, code string) {
	s.setFault(s.faults, service, action, code)
}

// SetFaultOnce makes the next call to service's action answer the error code;
// it takes precedence over SetFault. An empty code clears it.
func (s *Sim) SetFaultOnce(service, action, code string) {
	s.setFault(s.faultsOnce, service, action, code)
}

func (s *Sim) setFault(faults map[actionKey]string, service, action, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == "" {
		delete(faults, actionKey{service, action})
		return
	}
	faults[actionKey{service, action}] = code
}

func (s *Sim) takeFaultLocked(service, action string) string {
	key := actionKey{service, action}
	if code, ok := s.faultsOnce[key]; ok {
		delete(s.faultsOnce, key)
		return code
	}
	return s.faults[key]
}

// SetLatency sets the latency added to every API call.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetActionLatency sets extra latency for one action of a service, on top of
// SetLatency's. Zero clears it.
func (s *Sim) SetActionLatency(service, action string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.actionLatency[actionKey{service, action}] = d
}

// Calls returns the calls received so far, oldest first.
func (s *Sim) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := make([]Call, len(s.calls))
	for i, c := range s.calls {
		c.Body = slices.Clone(c.Body)
		calls[i] = c
	}
	return calls
}

// CallCount returns how many calls to service's action were received.
func (s *Sim) CallCount(service, action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Service == service && c.Action == action {
			n++
		}
	}
	return n
}

// ResetCalls forgets the calls received so far.
func (s *Sim) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// SetAccount sets the billing account's balance and arrears, in cents, as
// DescribeAccountBalance reports them (no credit). The default is a balance
// of 1,000,000 (10,000.00 CNY) and no arrears. A scenario with its own
// Account overrides it while its instance is the one being looked at.
func (s *Sim) SetAccount(realBalance, oweAmount float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account = account{realBalance: realBalance, oweAmount: oweAmount}
}

// AddScenario adds a simulated instance. Empty strings and nil lists take
// their defaults (see Scenario); it fails if the scenario is invalid or its
// ID, a public IP or a security-group ID is already in use.
func (s *Sim) AddScenario(sc Scenario) error {
	sc = sc.withDefaults().clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := validateSet(append(s.scenariosLocked(), sc)); err != nil {
		return fmt.Errorf("adding scenario: %w", err)
	}
	now := s.now()
	for _, g := range sc.SecurityGroups {
		s.groups[g.ID] = newGroup(g, sc.Region, now)
	}
	for _, t := range sc.Templates {
		s.templates = append(s.templates, storedTemplate{Template: t, region: sc.Region, created: now})
	}
	s.instances = append(s.instances, newInstance(sc, now))
	return nil
}

// Scenario returns the current state of the instance id as a scenario:
// mutations (state changes, rule changes, a reboot's effects) show.
func (s *Sim) Scenario(id string) (Scenario, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	for _, in := range s.instances {
		if in.sc.ID == id {
			return s.scenarioLocked(in), true
		}
	}
	return Scenario{}, false
}

// Scenarios returns the current state of every instance, in the order they
// were added.
func (s *Sim) Scenarios() []Scenario {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked()
	return s.scenariosLocked()
}

func (s *Sim) scenariosLocked() []Scenario {
	out := make([]Scenario, len(s.instances))
	for i, in := range s.instances {
		out[i] = s.scenarioLocked(in)
	}
	return out
}

func (s *Sim) scenarioLocked(in *instance) Scenario {
	sc := in.sc.clone()
	sc.SecurityGroups = make([]SecurityGroup, len(in.groupIDs))
	for i, id := range in.groupIDs {
		sc.SecurityGroups[i] = s.groups[id].securityGroup()
	}
	return sc
}
