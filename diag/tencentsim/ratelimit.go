package tencentsim

import "time"

// codeRequestLimitExceeded is Tencent Cloud's answer to a request beyond
// its action's rate limit (reference: tencent-cloud-api.md §5).
const codeRequestLimitExceeded = "RequestLimitExceeded"

// RateLimit caps the requests per second one action accepts from the
// account, as Tencent Cloud documents a limit on each API's page
// (tencent-cloud-api.md §6). The simulated cloud is one account: every
// credential it accepts spends the same limits, in every region.
type RateLimit struct {
	// Service and Action name the action, e.g. "vpc" and
	// "DescribeSecurityGroupPolicies". Both empty: every action that has
	// no limit of its own.
	Service, Action string
	// PerSecond is how many requests the action accepts in each second of
	// the Sim's clock; the rest are answered RequestLimitExceeded. Zero
	// lifts the limit.
	PerSecond int
}

// rateLimits counts the requests of the limited actions in windows of one
// second of the clock, as they arrive. The zero value limits nothing.
type rateLimits struct {
	every    int               // requests/s of an action without its own limit; 0: none
	byAction map[actionKey]int // an action's own limit; 0: none
	windows  map[actionKey]rateWindow
}

// rateWindow is an action's count of requests in one second.
type rateWindow struct {
	second int64 // Unix time
	count  int
}

// set applies l.
func (rl *rateLimits) set(l RateLimit) {
	perSecond := max(l.PerSecond, 0)
	if l.Service == "" && l.Action == "" {
		rl.every = perSecond
		return
	}
	if rl.byAction == nil {
		rl.byAction = map[actionKey]int{}
	}
	rl.byAction[actionKey{l.Service, l.Action}] = perSecond
}

// limit returns the requests per second key accepts, 0 for no limit.
func (rl *rateLimits) limit(key actionKey) int {
	if perSecond, ok := rl.byAction[key]; ok {
		return perSecond
	}
	return rl.every
}

// admit counts a request to key arriving at now and reports whether it is
// within the action's limit, and the limit. A request handled after one
// that arrived in a later second counts in that later second.
func (rl *rateLimits) admit(key actionKey, now time.Time) (ok bool, perSecond int) {
	perSecond = rl.limit(key)
	if perSecond <= 0 {
		return true, 0
	}
	if rl.windows == nil {
		rl.windows = map[actionKey]rateWindow{}
	}
	w := rl.windows[key]
	if second := now.Unix(); second > w.second {
		w = rateWindow{second: second}
	}
	if w.count >= perSecond {
		return false, perSecond
	}
	w.count++
	rl.windows[key] = w
	return true, perSecond
}

// SetRateLimit sets or lifts a per-action rate limit (see RateLimit); it
// applies from the next request on.
func (s *Sim) SetRateLimit(l RateLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits.set(l)
}

// spendRateLimit counts req against its action's rate limit, as it arrives,
// and fails with Tencent Cloud's RequestLimitExceeded beyond it.
func (s *Sim) spendRateLimit(req *request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok, perSecond := s.limits.admit(actionKey{req.service, req.action}, s.now()); !ok {
		return apiErrorf(codeRequestLimitExceeded,
			"The number of requests exceeds the frequency limit: %s.%s accepts %d requests per second.", req.service, req.action, perSecond)
	}
	return nil
}
