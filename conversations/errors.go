package conversations

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/cvmlogin/cvmlogin/diag"
)

// The errors Store methods return, wrapped with what was being done. Test
// them with errors.Is.
var (
	// ErrUnavailable means Redis could not be reached or could not serve the
	// request (connection refused, timeout, failover in progress).
	ErrUnavailable = errors.New("state store unavailable")
	// ErrNotFound means the item does not exist: it was never stored, has
	// expired, or its ID is malformed.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the item is not in the state the operation expected;
	// for fix requests the error is a *ConflictError naming the actual status.
	ErrConflict = errors.New("conflicting state")
	// ErrExpired means a fix request can no longer be approved or rejected:
	// its approval window has passed.
	ErrExpired = errors.New("fix request expired")
	// ErrInvalidTransition means a fix-request status change that the
	// lifecycle does not allow, such as requested → running.
	ErrInvalidTransition = errors.New("invalid fix request transition")
)

// ConflictError is returned by Transition when a fix request's status is not
// the expected one: someone else got there first. It matches ErrConflict.
type ConflictError struct {
	ID      string         // the fix request
	Want    diag.FixStatus // the status the caller expected
	Current diag.FixStatus // the status it has
}

// Error says what the request's status is instead.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("fix request %s is %s, not %s", e.ID, e.Current, e.Want)
}

// Is reports whether target is ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// wrap prefixes err with what was being done, marking it ErrUnavailable when
// it says Redis could not serve the request.
func wrap(doing string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", doing, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// transientReplies are the Redis error replies of a server that cannot serve
// right now, as opposed to one rejecting the command.
var transientReplies = []string{"LOADING ", "READONLY ", "MASTERDOWN ", "CLUSTERDOWN ", "TRYAGAIN ", "NOREPLICAS ", "ERR max number of clients"}

// unavailable reports whether err is a failure to reach or use Redis rather
// than a reply to the command, or the caller cancelling.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true
	}
	for _, p := range transientReplies {
		if strings.HasPrefix(reply.Error(), p) {
			return true
		}
	}
	return false
}
