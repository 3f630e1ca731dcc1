package tencent

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	cvm "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/cvm/v20170312"

	"github.com/cvmlogin/cvmlogin/diag"
)

// batcher merges calls that the API can answer in one request (several
// instance IDs, several IPs) across concurrent diagnoses. A call for a key
// with nothing in flight is sent at once, alone: a lone diagnosis waits for
// nothing. Calls arriving while one is in flight queue up, and go together
// in the next request (up to max inputs) as soon as it returns. So requests
// grow with the load, and with the limiter's waits, rather than with a
// timer.
type batcher[K comparable, In comparable, Out any] struct {
	c    *Client
	op   action // for errors
	max  int    // inputs per request
	send func(ctx context.Context, key K, ins []In) (map[In]Out, error)

	mu     sync.Mutex
	queues map[K][]*batchCall[In, Out] // by key; present while a request is in flight
}

// batchCall is one caller's share of a batch.
type batchCall[In comparable, Out any] struct {
	ctx  context.Context
	ins  []In
	done chan struct{}
	out  map[In]Out
	err  error
}

func newBatcher[K comparable, In comparable, Out any](c *Client, op action, max int, send func(context.Context, K, []In) (map[In]Out, error)) *batcher[K, In, Out] {
	return &batcher[K, In, Out]{c: c, op: op, max: max, send: send, queues: make(map[K][]*batchCall[In, Out])}
}

// do returns the outputs for ins, keyed by input; inputs the provider does
// not know are missing. ctx bounds this caller's wait; the request itself
// runs detached from its cancellation, for the other callers sharing it, until
// the latest of their deadlines. A
// caller that stops waiting records its failed call, with no attempts.
func (b *batcher[K, In, Out]) do(ctx context.Context, key K, ins []In) (map[In]Out, error) {
	bc := &batchCall[In, Out]{ctx: ctx, ins: ins, done: make(chan struct{})}
	b.mu.Lock()
	queue, busy := b.queues[key]
	b.queues[key] = append(queue, bc)
	b.mu.Unlock()
	if !busy {
		go b.drain(key)
	}
	select {
	case <-bc.done:
		return bc.out, bc.err
	case <-ctx.Done():
		e := apiError(ctx, b.op, ctx.Err(), 0)
		b.c.record(ctx, b.op, "", 0, 0, "", errorCode(e))
		return nil, e
	}
}

// drain sends the queued calls of key, batch after batch, until none is left.
func (b *batcher[K, In, Out]) drain(key K) {
	for {
		b.mu.Lock()
		batch, rest := b.take(b.queues[key])
		if len(batch) == 0 {
			delete(b.queues, key)
			b.mu.Unlock()
			return
		}
		b.queues[key] = rest
		b.mu.Unlock()
		b.run(key, batch)
	}
}

// take splits the calls still waiting in queue into the next batch, at most
// max distinct inputs (or one call), and the rest.
func (b *batcher[K, In, Out]) take(queue []*batchCall[In, Out]) (batch, rest []*batchCall[In, Out]) {
	var ins []In
	for i, bc := range queue {
		if bc.ctx.Err() != nil {
			continue // its caller has gone
		}
		merged := union(ins, bc.ins)
		if len(batch) > 0 && len(merged) > b.max {
			return batch, queue[i:]
		}
		batch, ins = append(batch, bc), merged
	}
	return batch, nil
}

// union returns ins with the inputs of more it lacks appended.
func union[In comparable](ins, more []In) []In {
	out := slices.Clone(ins)
	for _, in := range more {
		if !slices.Contains(out, in) {
			out = append(out, in)
		}
	}
	return out
}

// run sends one request for batch and hands every call its outputs. The
// request is recorded in the call log of every diagnosis it served. When a
// merged request is refused for what one input may have caused (a malformed
// ID, say), each call is sent on its own, all at once.
func (b *batcher[K, In, Out]) run(key K, batch []*batchCall[In, Out]) {
	var ins []In
	for _, bc := range batch {
		ins = union(ins, bc.ins)
	}
	log := &diag.CallLog{}
	ctx := diag.WithCallLog(detach(batch[0].ctx, latestDeadline(batch)), log)
	out, err := b.send(ctx, key, ins)
	if kind := diag.KindOf(err); len(batch) > 1 && (kind == diag.KindInvalid || kind == diag.KindNotFound) {
		var wg sync.WaitGroup
		for _, bc := range batch {
			wg.Go(func() { b.run(key, []*batchCall[In, Out]{bc}) })
		}
		wg.Wait()
		return
	}
	for _, bc := range batch {
		for _, c := range log.Calls() {
			if bc.ctx.Err() == nil { // a caller that left has recorded its failure
				diag.RecordCall(bc.ctx, c)
			}
		}
		bc.out, bc.err = out, err
		close(bc.done)
	}
}

// latestDeadline returns the latest deadline of the calls' contexts, or zero
// when one has none: the merged request may take as long as its most patient
// caller waits.
func latestDeadline[In comparable, Out any](batch []*batchCall[In, Out]) time.Time {
	var latest time.Time
	for _, bc := range batch {
		d, ok := bc.ctx.Deadline()
		if !ok {
			return time.Time{}
		}
		if d.After(latest) {
			latest = d
		}
	}
	return latest
}

// unbatchedKey marks a context whose calls go to the provider as they are:
// the batch's own request.
type unbatchedKey struct{}

func unbatched(ctx context.Context) context.Context {
	return context.WithValue(ctx, unbatchedKey{}, true)
}

func isUnbatched(ctx context.Context) bool {
	b, _ := ctx.Value(unbatchedKey{}).(bool)
	return b
}

// The most inputs one merged request carries.
const (
	batchInstances = 100 // DescribeInstances, DescribeAutomationAgentStatus and RunCommand take 100 IDs
	batchIPs       = 50  // DescribeAddresses pages at 100 addresses: two types per IP at most
	// GetMonitorData takes 50 instances per the SDK we build with (older
	// docs said 10): under load, 10 would make it the bottleneck.
	batchMetricInstances = 50
	// DescribeInvocationTasks filters by up to 5 invocation IDs (the SDK's
	// Filter.Values limit): without merging, polling would be the
	// bottleneck of the in-guest checks under a small budget.
	batchInvocations = 5
)

// batches are a Client's batchers.
type batches struct {
	instances *batcher[string, string, diag.Instance]         // by region, of instance IDs
	agents    *batcher[string, string, diag.Agent]            // by region, of instance IDs
	addresses *batcher[string, string, []diag.Address]        // by region, of IPs
	ddos      *batcher[string, string, string]                // by region, of IPs
	metrics   *batcher[metricKey, string, diag.MetricSeries]  // of instance IDs
	commands  *batcher[commandKey, string, string]            // of instance IDs, to invocation IDs
	tasks     *batcher[string, string, []diag.InvocationTask] // by region, of invocation IDs
}

func newBatches(c *Client) *batches {
	return &batches{
		instances: newBatcher(c, describeInstances, batchInstances, c.describeInstancesByID),
		agents:    newBatcher(c, describeAutomationAgentStatus, batchInstances, c.agentStatuses),
		addresses: newBatcher(c, describeAddresses, batchIPs, func(ctx context.Context, region string, ips []string) (map[string][]diag.Address, error) {
			addrs, err := c.Addresses(unbatched(ctx), region, ips)
			byIP := make(map[string][]diag.Address, len(ips))
			for _, a := range addrs {
				byIP[a.IP] = append(byIP[a.IP], a)
			}
			return byIP, err
		}),
		ddos: newBatcher(c, describeBasicDeviceStatus, batchIPs, func(ctx context.Context, region string, ips []string) (map[string]string, error) {
			return c.BasicDeviceStatus(unbatched(ctx), region, ips)
		}),
		metrics:  newBatcher(c, getMonitorData, batchMetricInstances, c.metricSeries),
		commands: newBatcher(c, runCommand, batchInstances, c.runCommandOn),
		tasks:    newBatcher(c, describeInvocationTasks, batchInvocations, c.invocationTasks),
	}
}

// describeInstancesByID looks several instances up by ID in one request
// (cvm:DescribeInstances), keyed by ID; unknown IDs are missing.
func (c *Client) describeInstancesByID(ctx context.Context, region string, ids []string) (map[string]diag.Instance, error) {
	cli, err := c.cvmClient(region)
	if err != nil {
		return nil, err
	}
	req := cvm.NewDescribeInstancesRequest()
	req.Limit = common.Int64Ptr(maxInstances)
	req.InstanceIds = common.StringPtrs(ids)
	resp, err := call(ctx, c, describeInstances, region, cli.DescribeInstancesWithContext, req)
	if err != nil {
		return nil, err
	}
	found := make(map[string]diag.Instance, len(ids))
	for _, in := range resp.Response.InstanceSet {
		if in != nil {
			found[deref(in.InstanceId)] = instanceFrom(in)
		}
	}
	return found, nil
}

// instancesByID is FindInstances for one instance ID, merged with the
// concurrent lookups in region.
func (c *Client) instancesByID(ctx context.Context, region, id string) ([]diag.Instance, error) {
	found, err := c.batch.instances.do(ctx, region, []string{id})
	if in, ok := found[id]; ok && err == nil {
		return []diag.Instance{in}, nil
	}
	return nil, err
}

// batchedAddresses is Addresses merged with the concurrent queries in region.
func (c *Client) batchedAddresses(ctx context.Context, region string, ips []string) ([]diag.Address, error) {
	byIP, err := c.batch.addresses.do(ctx, region, ips)
	if err != nil {
		return nil, err
	}
	var addrs []diag.Address
	for _, ip := range ips {
		addrs = append(addrs, byIP[ip]...)
	}
	return addrs, nil
}

// batchedDeviceStatus is BasicDeviceStatus merged with the concurrent
// queries in region.
func (c *Client) batchedDeviceStatus(ctx context.Context, region string, ips []string) (map[string]string, error) {
	all, err := c.batch.ddos.do(ctx, region, ips)
	if err != nil {
		return nil, err
	}
	status := make(map[string]string, len(ips))
	for _, ip := range ips {
		if s, ok := all[ip]; ok {
			status[ip] = s
		}
	}
	return status, nil
}
