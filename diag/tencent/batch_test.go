package tencent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
)

// batchFake answers DescribeInstances with one instance per requested ID
// (an ID containing "bad" makes the whole request malformed) and
// GetMonitorData with one point per requested instance, its value the
// instance's position, RunCommand with a new invocation, and
// DescribeInvocationTasks with one task per invocation; each reply takes
// latency. It records the IDs of each request.
type batchFake struct {
	latency time.Duration
	mu      sync.Mutex
	batches [][]string
}

func (f *batchFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body struct {
		InstanceIds []string
		Instances   []struct {
			Dimensions []struct{ Name, Value string }
		}
		Filters []struct{ Values []string }
	}
	json.Unmarshal(raw, &body)
	ids := body.InstanceIds
	for _, f := range body.Filters {
		ids = append(ids, f.Values...)
	}
	for _, in := range body.Instances {
		ids = append(ids, in.Dimensions[0].Value)
	}
	f.mu.Lock()
	f.batches = append(f.batches, ids)
	f.mu.Unlock()
	time.Sleep(f.latency)
	var items []string
	switch r.Header.Get("X-TC-Action") {
	case "DescribeInstances":
		if slices.ContainsFunc(ids, func(id string) bool { return strings.Contains(id, "bad") }) {
			io.WriteString(w, failure("InvalidInstanceId.Malformed", "malformed").body)
			return
		}
		for _, id := range ids {
			items = append(items, fmt.Sprintf(`{"InstanceId":%q,"InstanceState":"RUNNING"}`, id))
		}
		fmt.Fprintf(w, `{"Response":{"TotalCount":%d,"InstanceSet":[%s],"RequestId":"r"}}`, len(ids), strings.Join(items, ","))
	case "RunCommand":
		fmt.Fprintf(w, `{"Response":{"InvocationId":"inv-%d","RequestId":"r"}}`, len(f.batches))
	case "GetMonitorData":
		for i := len(ids) - 1; i >= 0; i-- { // in reverse: match by dimension, not position
			items = append(items, fmt.Sprintf(`{"Dimensions":[{"Name":"InstanceId","Value":%q}],"Timestamps":[1],"Values":[%d]}`, ids[i], i))
		}
		fmt.Fprintf(w, `{"Response":{"DataPoints":[%s],"RequestId":"r"}}`, strings.Join(items, ","))
	case "DescribeInvocationTasks":
		for _, id := range ids {
			items = append(items, fmt.Sprintf(`{"InvocationId":%q,"InstanceId":"ins-of-%s","TaskStatus":"SUCCESS"}`, id, id))
		}
		fmt.Fprintf(w, `{"Response":{"TotalCount":%d,"InvocationTaskSet":[%s],"RequestId":"r"}}`, len(ids), strings.Join(items, ","))
	}
}

func (f *batchFake) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n []int
	for _, b := range f.batches {
		n = append(n, len(b))
	}
	return n
}

func newBatchClient(t *testing.T, latency time.Duration) (*Client, *batchFake) {
	f := &batchFake{latency: latency}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(Config{Region: testRegion, Endpoint: strings.TrimPrefix(srv.URL, "http://"), Scheme: "http",
		SecretID: testSecretID, SecretKey: testSecretKey, RetryBase: time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		RateLimits: map[string]int{"DescribeInstances": 1000, "GetMonitorData": 1000, "RunCommand": 1000, "DescribeInvocationTasks": 1000}})
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

func TestALoneLookupIsSentAtOnceAndAlone(t *testing.T) {
	c, f := newBatchClient(t, 0)
	ctx, calls := withCallLog()
	got, err := c.FindInstances(ctx, testRegion, diag.InstanceQuery{ID: "ins-00000001"})
	if err != nil || len(got) != 1 || got[0].ID != "ins-00000001" {
		t.Fatalf("FindInstances = %+v, %v", got, err)
	}
	if sizes := f.sizes(); !slices.Equal(sizes, []int{1}) {
		t.Errorf("requests of %v IDs, want [1]", sizes)
	}
	if log := calls.Calls(); len(log) != 1 || log[0].Action != "DescribeInstances" {
		t.Errorf("call log %+v, want the one lookup", log)
	}
}

// lookUpConcurrently looks ids up at once, each with its own call log, and
// returns each one's instances, error and call log.
func lookUpConcurrently(c *Client, ids []string) ([][]diag.Instance, []error, []*diag.CallLog) {
	found := make([][]diag.Instance, len(ids))
	errs := make([]error, len(ids))
	logs := make([]*diag.CallLog, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		logs[i] = &diag.CallLog{}
		wg.Go(func() {
			found[i], errs[i] = c.FindInstances(diag.WithCallLog(context.Background(), logs[i]), testRegion, diag.InstanceQuery{ID: id})
		})
	}
	wg.Wait()
	return found, errs, logs
}

func TestConcurrentLookupsShareRequests(t *testing.T) {
	c, f := newBatchClient(t, 50*time.Millisecond)
	var ids []string
	for i := range 30 {
		ids = append(ids, fmt.Sprintf("ins-%08d", i))
	}
	found, errs, logs := lookUpConcurrently(c, ids)
	for i, id := range ids {
		if errs[i] != nil || len(found[i]) != 1 || found[i][0].ID != id {
			t.Errorf("lookup of %s = %+v, %v", id, found[i], errs[i])
		}
		if log := logs[i].Calls(); len(log) != 1 || log[0].Action != "DescribeInstances" {
			t.Errorf("%s: call log %+v, want the shared lookup", id, log)
		}
	}
	if sizes := f.sizes(); len(sizes) > 3 {
		t.Errorf("30 concurrent lookups sent %d requests (of %v IDs), want at most 3", len(sizes), sizes)
	}
}

func TestAMalformedIDFailsOnlyItsOwnLookup(t *testing.T) {
	c, _ := newBatchClient(t, 20*time.Millisecond)
	ids := []string{"ins-00000001", "ins-00000002", "ins-bad", "ins-00000003", "ins-00000004"}
	found, errs, _ := lookUpConcurrently(c, ids)
	for i, id := range ids {
		switch {
		case id == "ins-bad" && diag.KindOf(errs[i]) != diag.KindInvalid:
			t.Errorf("lookup of %s: %v, want KindInvalid", id, errs[i])
		case id != "ins-bad" && (errs[i] != nil || len(found[i]) != 1):
			t.Errorf("lookup of %s = %+v, %v; want its instance", id, found[i], errs[i])
		}
	}
}

func TestConcurrentMetricQueriesShareRequests(t *testing.T) {
	c, f := newBatchClient(t, 50*time.Millisecond)
	end := time.Date(2026, 5, 1, 2, 2, 30, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 60 {
		id := fmt.Sprintf("ins-%08d", i)
		wg.Go(func() {
			// Queries a few seconds apart share the minute they end in.
			skew := time.Duration(i) * 400 * time.Millisecond
			q := diag.MetricQuery{Metric: "CPUUsage", InstanceID: id, Period: time.Minute,
				Start: end.Add(-10*time.Minute + skew), End: end.Add(skew)}
			s, err := c.MetricData(context.Background(), testRegion, q)
			if err != nil || len(s.Values) != 1 {
				t.Errorf("%s: %+v, %v", id, s, err)
			}
		})
	}
	wg.Wait()
	sizes := f.sizes()
	if len(sizes) > 3 || slices.Max(sizes) > batchMetricInstances {
		t.Errorf("60 concurrent queries sent requests of %v instances, want at most 3 of at most %d", sizes, batchMetricInstances)
	}
}

func TestIdenticalCommandsRunAsOneInvocation(t *testing.T) {
	c, f := newBatchClient(t, 50*time.Millisecond)
	invocations := make([]string, 20)
	var wg sync.WaitGroup
	for i := range invocations {
		wg.Go(func() {
			cmd := diag.Command{InstanceID: fmt.Sprintf("ins-%08d", i), Type: "SHELL", Script: "echo hi", Timeout: time.Second}
			inv, err := c.RunCommand(context.Background(), testRegion, cmd)
			if err != nil || inv == "" {
				t.Errorf("RunCommand on %s = %q, %v", cmd.InstanceID, inv, err)
			}
			invocations[i] = inv
		})
	}
	wg.Wait()
	sizes := f.sizes()
	if len(sizes) > 3 {
		t.Errorf("20 concurrent commands sent %d requests (of %v instances), want at most 3", len(sizes), sizes)
	}
	slices.Sort(invocations)
	if n := len(slices.Compact(invocations)); n != len(sizes) {
		t.Errorf("%d distinct invocations for %d requests", n, len(sizes))
	}
}

func TestConcurrentPollsOfInvocationsShareRequests(t *testing.T) {
	c, f := newBatchClient(t, 50*time.Millisecond)
	var wg sync.WaitGroup
	for i := range 12 {
		inv := fmt.Sprintf("inv-%08d", i)
		wg.Go(func() {
			tasks, err := c.InvocationTasks(context.Background(), testRegion, inv)
			if err != nil || len(tasks) != 1 || tasks[0].InstanceID != "ins-of-"+inv {
				t.Errorf("tasks of %s = %+v, %v; want its own task", inv, tasks, err)
			}
		})
	}
	wg.Wait()
	sizes := f.sizes()
	if len(sizes) > 4 || slices.Max(sizes) > batchInvocations {
		t.Errorf("12 concurrent polls sent requests of %v invocations, want at most 4 of at most %d", sizes, batchInvocations)
	}
}
