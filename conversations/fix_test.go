package conversations

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

const approvalTTL = 15 * time.Minute

func sampleFixRequest() FixRequest {
	return FixRequest{
		Action:          "open_login_port",
		ConversationID:  NewID(),
		Channel:         "C0123ABCD",
		InstanceID:      "ins-abc12345",
		Region:          "ap-guangzhou",
		SecurityGroupID: "sg-12345678",
		Port:            22,
		Requester:       "U0REQUEST",
		Params:          map[string]string{"rules": "TCP:22"},
	}
}

func TestCreateFixRequest(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	s, c := newStore(t, Options{Now: clock.Now, TTL: time.Hour})
	fr, err := s.CreateFixRequest(ctx, sampleFixRequest(), approvalTTL)
	must(t, err)
	if !validID(fr.ID) || fr.Status != diag.FixRequested || !fr.CreatedAt.Equal(clock.Now()) || !fr.ExpiresAt.Equal(clock.Now().Add(approvalTTL)) {
		t.Errorf("CreateFixRequest() = %+v, want a new ID, requested, created now, expiring in 15m", fr)
	}
	got, err := s.FixRequest(ctx, fr.ID)
	must(t, err)
	if got.Status != diag.FixRequested || got.Params["rules"] != "TCP:22" || got.SecurityGroupID != "sg-12345678" {
		t.Errorf("FixRequest() = %+v, want it as created", got)
	}

	ttl, err := c.PTTL(ctx, s.tagged("fix", fr.ID)).Result()
	must(t, err)
	if min := approvalTTL + 24*time.Hour; ttl < min-time.Second {
		t.Errorf("key TTL = %v, want at least the approval TTL + a day (%v)", ttl, min)
	}

	if _, err := s.CreateFixRequest(ctx, fr, approvalTTL); !errors.Is(err, ErrConflict) {
		t.Errorf("creating it twice: err = %v, want ErrConflict", err)
	}
	if _, err := s.CreateFixRequest(ctx, sampleFixRequest(), 0); err == nil {
		t.Error("CreateFixRequest with ttl 0 succeeded")
	}
	if _, err := s.FixRequest(ctx, NewID()); !errors.Is(err, ErrNotFound) {
		t.Errorf("FixRequest(unknown): err = %v, want ErrNotFound", err)
	}
}

func TestFixRequestLifecycle(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	s, _ := newStore(t, Options{Now: clock.Now})
	fr, err := s.CreateFixRequest(ctx, sampleFixRequest(), approvalTTL)
	must(t, err)

	clock.Advance(time.Minute)
	approved, err := s.Transition(ctx, fr.ID, diag.FixRequested, diag.FixApproved, func(f *FixRequest) {
		f.Approver = "U0APPROVE"
		f.ID = "ignored"
	})
	must(t, err)
	if approved.Status != diag.FixApproved || approved.Approver != "U0APPROVE" || approved.ID != fr.ID || !approved.DecidedAt.Equal(clock.Now()) {
		t.Errorf("after approval: %+v, want approved by U0APPROVE now, same ID", approved)
	}

	clock.Advance(time.Minute)
	running, err := s.Transition(ctx, fr.ID, diag.FixApproved, diag.FixRunning, nil)
	must(t, err)
	if !running.StartedAt.Equal(clock.Now()) {
		t.Errorf("StartedAt = %v, want %v", running.StartedAt, clock.Now())
	}

	clock.Advance(time.Minute)
	_, err = s.Transition(ctx, fr.ID, diag.FixRunning, diag.FixSucceeded, func(f *FixRequest) {
		f.Outcome = "inserted 1 rule"
		f.Params["request_id"] = "req-1"
	})
	must(t, err)
	got, err := s.FixRequest(ctx, fr.ID)
	must(t, err)
	if got.Status != diag.FixSucceeded || got.Outcome != "inserted 1 rule" || got.Params["request_id"] != "req-1" ||
		!got.FinishedAt.Equal(clock.Now()) || got.Approver != "U0APPROVE" || !got.DecidedAt.Equal(approved.DecidedAt) {
		t.Errorf("final request = %+v, want succeeded with outcome, params and all stamps", got)
	}

	clock.Advance(time.Hour) // long past ExpiresAt: a finished request stays finished
	got, err = s.FixRequest(ctx, fr.ID)
	must(t, err)
	if got.Status != diag.FixSucceeded {
		t.Errorf("status an hour later = %s, want succeeded", got.Status)
	}
}

func TestTransitionConflictCarriesTheCurrentStatus(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	fr, err := s.CreateFixRequest(ctx, sampleFixRequest(), approvalTTL)
	must(t, err)
	_, err = s.Transition(ctx, fr.ID, diag.FixRequested, diag.FixRejected, nil)
	must(t, err)

	_, err = s.Transition(ctx, fr.ID, diag.FixRequested, diag.FixApproved, nil)
	var conflict *ConflictError
	if !errors.Is(err, ErrConflict) || !errors.As(err, &conflict) || conflict.Current != diag.FixRejected {
		t.Fatalf("approving a rejected request: err = %v, want a ConflictError with current status rejected", err)
	}
	if conflict.Error() != "fix request "+fr.ID+" is rejected, not requested" {
		t.Errorf("message = %q", conflict.Error())
	}
}

func TestExpiredFixRequests(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	s, _ := newStore(t, Options{Now: clock.Now})
	fr, err := s.CreateFixRequest(ctx, sampleFixRequest(), approvalTTL)
	must(t, err)
	clock.Advance(approvalTTL)

	got, err := s.FixRequest(ctx, fr.ID)
	must(t, err)
	if got.Status != diag.FixExpired {
		t.Errorf("status at ExpiresAt = %s, want expired", got.Status)
	}
	for _, to := range []diag.FixStatus{diag.FixApproved, diag.FixRejected} {
		if _, err := s.Transition(ctx, fr.ID, diag.FixRequested, to, nil); !errors.Is(err, ErrExpired) {
			t.Errorf("requested → %s after expiry: err = %v, want ErrExpired", to, err)
		}
	}
	var conflict *ConflictError
	if _, err := s.Transition(ctx, fr.ID, diag.FixApproved, diag.FixRunning, nil); !errors.As(err, &conflict) || conflict.Current != diag.FixExpired {
		t.Errorf("approved → running of an expired request: err = %v, want a conflict with current status expired", err)
	}

	expired, err := s.Transition(ctx, fr.ID, diag.FixRequested, diag.FixExpired, nil)
	must(t, err)
	if !expired.DecidedAt.Equal(clock.Now()) {
		t.Errorf("DecidedAt = %v, want %v", expired.DecidedAt, clock.Now())
	}
	if _, err := s.Transition(ctx, fr.ID, diag.FixRequested, diag.FixExpired, nil); !errors.Is(err, ErrConflict) {
		t.Errorf("expiring it twice: err = %v, want ErrConflict", err)
	}
}

func TestTransitionFollowsTheLifecycle(t *testing.T) {
	s := deadStore(t) // the lifecycle is checked before Redis is asked
	tests := []struct {
		from, to diag.FixStatus
		allowed  bool
	}{
		{diag.FixRequested, diag.FixApproved, true},
		{diag.FixRequested, diag.FixRejected, true},
		{diag.FixRequested, diag.FixExpired, true},
		{diag.FixApproved, diag.FixRunning, true},
		{diag.FixRunning, diag.FixSucceeded, true},
		{diag.FixRunning, diag.FixFailed, true},
		{diag.FixRequested, diag.FixRunning, false},
		{diag.FixRequested, diag.FixRequested, false},
		{diag.FixApproved, diag.FixSucceeded, false},
		{diag.FixApproved, diag.FixRejected, false},
		{diag.FixRejected, diag.FixApproved, false},
		{diag.FixExpired, diag.FixApproved, false},
		{diag.FixSucceeded, diag.FixRunning, false},
		{diag.FixFailed, diag.FixRunning, false},
		{"", diag.FixApproved, false},
		{diag.FixRequested, "done", false},
	}
	for _, tt := range tests {
		_, err := s.Transition(t.Context(), NewID(), tt.from, tt.to, nil)
		if got := !errors.Is(err, ErrInvalidTransition); got != tt.allowed {
			t.Errorf("%s → %s: err = %v, want allowed %v", tt.from, tt.to, err, tt.allowed)
		}
	}
}

func TestTransitionOfUnknownRequest(t *testing.T) {
	s, _ := newStore(t, Options{})
	for _, id := range []string{NewID(), "x"} {
		if _, err := s.Transition(t.Context(), id, diag.FixRequested, diag.FixApproved, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("Transition(%q): err = %v, want ErrNotFound", id, err)
		}
	}
}

func TestConcurrentTransitionsHaveOneWinnerPerStep(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	fr, err := s.CreateFixRequest(ctx, sampleFixRequest(), approvalTTL)
	must(t, err)

	steps := []struct{ from, to diag.FixStatus }{
		{diag.FixRequested, diag.FixApproved},
		{diag.FixApproved, diag.FixRunning},
	}
	for _, st := range steps {
		const racers = 50
		var (
			mu        sync.Mutex
			winners   []string
			conflicts int
			start     = make(chan struct{})
			wg        sync.WaitGroup
		)
		for i := range racers {
			wg.Go(func() {
				<-start
				who := string(rune('A'+i%26)) + string(rune('a'+i/26))
				_, err := s.Transition(ctx, fr.ID, st.from, st.to, func(f *FixRequest) {
					if st.to == diag.FixApproved {
						f.Approver = who
					}
				})
				mu.Lock()
				defer mu.Unlock()
				var conflict *ConflictError
				switch {
				case err == nil:
					winners = append(winners, who)
				case errors.As(err, &conflict) && conflict.Current == st.to:
					conflicts++
				default:
					t.Errorf("%s → %s: unexpected error %v", st.from, st.to, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 || conflicts != racers-1 {
			t.Fatalf("%s → %s: %d winners %v and %d conflicts, want 1 and %d", st.from, st.to, len(winners), winners, conflicts, racers-1)
		}
		if st.to == diag.FixApproved {
			got, err := s.FixRequest(ctx, fr.ID)
			must(t, err)
			if got.Approver != winners[0] {
				t.Errorf("stored approver = %q, want the winner %q", got.Approver, winners[0])
			}
		}
	}
}

// TestExpireDue: requests left undecided past their window expire once,
// whichever of several sweeping replicas gets them; decided ones do not.
func TestExpireDue(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	s, c := newStore(t, Options{Now: clock.Now})
	var undecided []string
	for range 3 {
		fr, err := s.CreateFixRequest(ctx, sampleFixRequest(), approvalTTL)
		if err != nil {
			t.Fatal(err)
		}
		undecided = append(undecided, fr.ID)
	}
	decided, err := s.CreateFixRequest(ctx, sampleFixRequest(), approvalTTL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(ctx, decided.ID, diag.FixRequested, diag.FixApproved, nil); err != nil {
		t.Fatal(err)
	}
	if due, err := s.ExpireDue(ctx); err != nil || len(due) != 0 {
		t.Fatalf("before the window ends: %d expired, %v", len(due), err)
	}

	clock.Advance(approvalTTL)
	var (
		mu      sync.Mutex
		expired []string
		wg      sync.WaitGroup
	)
	for range 5 { // five replicas sweep at once
		wg.Go(func() {
			due, err := s.ExpireDue(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, fr := range due {
				expired = append(expired, fr.ID)
				if fr.Status != diag.FixExpired || fr.DecidedAt.IsZero() {
					t.Errorf("expired request %+v", fr)
				}
			}
		})
	}
	wg.Wait()
	if len(expired) != len(undecided) {
		t.Fatalf("expired %v, want each of %v once", expired, undecided)
	}
	for _, id := range undecided {
		if fr, err := s.FixRequest(ctx, id); err != nil || fr.Status != diag.FixExpired {
			t.Fatalf("%s: %+v, %v", id, fr, err)
		}
	}
	if fr, _ := s.FixRequest(ctx, decided.ID); fr.Status != diag.FixApproved {
		t.Fatalf("the decided request is %s", fr.Status)
	}
	if n := c.ZCard(ctx, s.key("fixes", "expiring")).Val(); n != 0 {
		t.Fatalf("%d requests left in the expiry index", n)
	}
}

// strandedIDs returns the IDs StrandedFixes lists.
func strandedIDs(t *testing.T, s *Store) []string {
	t.Helper()
	stranded, err := s.StrandedFixes(t.Context())
	must(t, err)
	var ids []string
	for _, fr := range stranded {
		ids = append(ids, fr.ID)
	}
	return ids
}

// TestRunningFixLease: a running fix is stranded exactly when nobody holds
// its lease, only the holder renews or releases it, and a finished fix is
// never stranded.
func TestRunningFixLease(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, Options{})
	fr, err := s.CreateFixRequest(ctx, sampleFixRequest(), approvalTTL)
	must(t, err)
	_, err = s.Transition(ctx, fr.ID, diag.FixRequested, diag.FixApproved, nil)
	must(t, err)
	if got := strandedIDs(t, s); len(got) != 0 {
		t.Fatalf("stranded %v before it runs", got)
	}
	if held, err := s.AcquireFixLease(ctx, fr.ID, "r1", time.Minute); err != nil || !held {
		t.Fatalf("r1 acquiring: %v, %v", held, err)
	}
	_, err = s.Transition(ctx, fr.ID, diag.FixApproved, diag.FixRunning, nil)
	must(t, err)
	if got := strandedIDs(t, s); len(got) != 0 {
		t.Fatalf("stranded %v while r1 holds it", got)
	}
	if held, _ := s.AcquireFixLease(ctx, fr.ID, "r2", time.Minute); held {
		t.Fatal("r2 acquired a lease r1 holds")
	}
	if renewed, _ := s.RenewFixLease(ctx, fr.ID, "r2", time.Minute); renewed {
		t.Fatal("r2 renewed r1's lease")
	}
	must(t, s.ReleaseFixLease(ctx, fr.ID, "r2"))
	if renewed, err := s.RenewFixLease(ctx, fr.ID, "r1", time.Minute); err != nil || !renewed {
		t.Fatalf("r1 renewing: %v, %v (r2's release must not free it)", renewed, err)
	}
	must(t, s.ReleaseFixLease(ctx, fr.ID, "r1")) // r1 hands it over, or its lease expires
	if got := strandedIDs(t, s); len(got) != 1 || got[0] != fr.ID {
		t.Fatalf("stranded %v, want [%s]", got, fr.ID)
	}
	_, err = s.Transition(ctx, fr.ID, diag.FixRunning, diag.FixSucceeded, nil)
	must(t, err)
	if got := strandedIDs(t, s); len(got) != 0 {
		t.Fatalf("stranded %v after it finished", got)
	}
}
