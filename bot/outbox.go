package bot

import (
	"log/slog"
	"sync"
)

// outbox publishes to Slack apart from the diagnosis workers: one queue per
// channel, drained by a sender of its own, its urgent messages (reports,
// the first visible answer) before the rest (thread details). A slow or
// rate-limited channel so delays only its own messages: never the next
// diagnosis, nor another channel.
type outbox struct {
	log    *slog.Logger
	mu     sync.Mutex
	queues map[string]*channelQueue
	wg     sync.WaitGroup
}

// channelQueue is the work waiting for one channel's sender.
type channelQueue struct{ urgent, later []func() }

func newOutbox(log *slog.Logger) *outbox {
	return &outbox{log: log, queues: map[string]*channelQueue{}}
}

// send queues task for channel's sender, starting one if the channel has
// none. Tasks of one channel run one at a time, urgent first, each kind in
// the order sent.
func (o *outbox) send(channel string, urgent bool, task func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q, running := o.queues[channel]
	if !running {
		q = &channelQueue{}
		o.queues[channel] = q
	}
	if urgent {
		q.urgent = append(q.urgent, task)
	} else {
		q.later = append(q.later, task)
	}
	if !running {
		o.wg.Go(func() { o.drain(channel, q) })
	}
}

// drain runs channel's tasks until its queue is empty.
func (o *outbox) drain(channel string, q *channelQueue) {
	for task := o.next(channel, q); task != nil; task = o.next(channel, q) {
		task()
	}
}

// next pops channel's next task, or ends its sender when there is none.
func (o *outbox) next(channel string, q *channelQueue) func() {
	o.mu.Lock()
	defer o.mu.Unlock()
	var task func()
	switch {
	case len(q.urgent) > 0:
		task, q.urgent = q.urgent[0], q.urgent[1:]
	case len(q.later) > 0:
		task, q.later = q.later[0], q.later[1:]
	default:
		delete(o.queues, channel)
	}
	return task
}

// wait blocks until every queued task has run.
func (o *outbox) wait() { o.wg.Wait() }

// pending returns how many tasks wait for channel's sender.
func (o *outbox) pending(channel string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if q, ok := o.queues[channel]; ok {
		return len(q.urgent) + len(q.later)
	}
	return 0
}
