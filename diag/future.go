package diag

import (
	"context"
	"sync"
)

// lazy is a value fetched at most once, on first use, in its own goroutine,
// so that several checks can share one API call and each can stop waiting
// when its own deadline passes.
type lazy[T any] struct {
	once  sync.Once
	fetch func() (T, error)
	done  chan struct{}
	value T
	err   error
}

func newLazy[T any](fetch func() (T, error)) *lazy[T] {
	return &lazy[T]{fetch: fetch, done: make(chan struct{})}
}

// start begins the fetch if it has not begun yet.
func (l *lazy[T]) start() {
	l.once.Do(func() {
		go func() {
			defer close(l.done)
			l.value, l.err = l.fetch()
		}()
	})
}

// get starts the fetch if needed and waits for it or for ctx.
func (l *lazy[T]) get(ctx context.Context) (T, error) {
	l.start()
	select {
	case <-l.done:
		return l.value, l.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
