package diag

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/defaults"
)

// The operating systems a report distinguishes.
const (
	OSLinux   = "linux"
	OSWindows = "windows"
)

// Thresholds are the limits above which a metric counts as saturated, in
// percent, and the metric window looked at.
type Thresholds struct {
	CPUPercent       float64
	MemoryPercent    float64
	BandwidthPercent float64
	DiskPercent      float64
	Window           time.Duration
}

// DefaultThresholds are 90% over the last 10 minutes, disk 95%.
var DefaultThresholds = Thresholds{CPUPercent: 90, MemoryPercent: 90, BandwidthPercent: 90, DiskPercent: 95, Window: 10 * time.Minute}

// Dialer opens the TCP connection of the port probe. *net.Dialer is one;
// the simulator supplies one that maps scenario addresses to loopback.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Options configure a Diagnoser. Zero durations take the defaults noted.
type Options struct {
	Region       string        // default region; required
	Regions      []string      // searched concurrently when the target is not in Region
	Timeout      time.Duration // whole diagnosis, waits for the request budget included; default 30s
	CheckTimeout time.Duration // each API call once the budget lets it through (WithCallTimeout); default 10s
	PortProbe    bool          // probe the login port from this host
	ProbeTimeout time.Duration // default 3s
	GuestChecks  bool          // run read-only in-guest checks through TAT
	GuestTimeout time.Duration // default 20s
	GuestPoll    time.Duration // first TAT poll interval; default 300ms
	Thresholds   Thresholds    // zero fields take DefaultThresholds
	Dialer       Dialer        // nil: a net.Dialer
	AllowedTags  TagAllowList  // not empty: an instance without one of them fails instance.found, and nothing else is read
	Now          func() time.Time
	Logger       *slog.Logger
}

// Request is one diagnosis to run.
type Request struct {
	Target Target
	Region string // overrides Options.Region when set
	Port   int    // login port; 0: 22 on Linux, 3389 on Windows (or the instance's DefaultLoginPort)
	// Symptom is the error message the user saw, if they gave one: the
	// report classifies it (Report.Symptom).
	Symptom string
	// OnFinding, when set, is called with each finding as soon as it is known,
	// one call at a time.
	OnFinding func(Finding)
}

// Diagnoser runs the check catalogue against a cloud. It is safe for
// concurrent use.
type Diagnoser struct {
	cloud Cloud
	opts  Options
}

// NewDiagnoser returns a Diagnoser reading from cloud.
func NewDiagnoser(cloud Cloud, opts Options) *Diagnoser {
	opts.Timeout = defaults.Duration(opts.Timeout, 30*time.Second)
	opts.CheckTimeout = defaults.Duration(opts.CheckTimeout, 10*time.Second)
	opts.ProbeTimeout = defaults.Duration(opts.ProbeTimeout, 3*time.Second)
	opts.GuestTimeout = defaults.Duration(opts.GuestTimeout, 20*time.Second)
	opts.GuestPoll = defaults.Duration(opts.GuestPoll, 300*time.Millisecond)
	opts.Thresholds = opts.Thresholds.withDefaults()
	if opts.Dialer == nil {
		opts.Dialer = &net.Dialer{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Diagnoser{cloud: cloud, opts: opts}
}

func (t Thresholds) withDefaults() Thresholds {
	def := DefaultThresholds
	pick := func(v, d float64) float64 {
		if v <= 0 {
			return d
		}
		return v
	}
	return Thresholds{
		CPUPercent:       pick(t.CPUPercent, def.CPUPercent),
		MemoryPercent:    pick(t.MemoryPercent, def.MemoryPercent),
		BandwidthPercent: pick(t.BandwidthPercent, def.BandwidthPercent),
		DiskPercent:      pick(t.DiskPercent, def.DiskPercent),
		Window:           defaults.Duration(t.Window, def.Window),
	}
}

// Diagnose runs every check for req and returns the report. The report always
// has one finding per check ID. The error is non-nil (wrapping ErrCouldNotRun)
// only when the instance lookup itself failed, e.g. credentials were rejected
// or the API was unreachable; the report then explains it in instance.found.
func (d *Diagnoser) Diagnose(ctx context.Context, req Request) (*Report, error) {
	started := d.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	calls := &CallLog{}
	ctx = WithCallTimeout(WithCallLog(ctx, calls), d.opts.CheckTimeout)

	region := req.Region
	if region == "" {
		region = d.opts.Region
	}
	run := &run{d: d, ctx: ctx, req: req, region: region, emit: serialize(req.OnFinding)}
	run.balance = fetch(run, d.cloud.AccountBalance)
	run.balance.start() // independent of the instance: overlap it with the lookup

	found, err := run.resolve()
	report := &Report{Target: req.Target.Raw, Region: run.region, StartedAt: started.UTC().Truncate(time.Second)}
	if run.inst != nil {
		report.Instance = run.summary()
	}
	report.Findings = run.runChecks(found)
	report.Symptom = ClassifySymptom(req.Symptom, run.os)
	report.APICalls = calls.Calls()
	report.DurationMS = d.opts.Now().Sub(started).Milliseconds()
	report.Finish()
	d.opts.Logger.DebugContext(ctx, "diagnosis finished", "target", req.Target.Raw, "region", run.region,
		"fail", report.Summary.Fail, "unknown", report.Summary.Unknown, "duration_ms", report.DurationMS)
	return report, err
}

type callTimeoutKey struct{}

// WithCallTimeout returns ctx carrying a call timeout d for the cloud API
// calls made with it. Each call may spend d on the provider (its attempts,
// and the pauses between retries of failures), while the time it spends
// waiting for the account's request budget (a slot of a client-side limit,
// or the provider easing off after throttling it) counts against ctx's
// deadline only. Diagnose runs every call with CheckTimeout this way under
// the diagnosis's deadline: when many diagnoses share a small budget they
// queue for it instead of giving up after CheckTimeout, and a call that
// hangs still fails after CheckTimeout. A Cloud implementation without a
// request budget takes d as each call's timeout.
func WithCallTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, callTimeoutKey{}, d)
}

// CallTimeout returns the call timeout ctx carries, if any (see
// WithCallTimeout).
func CallTimeout(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(callTimeoutKey{}).(time.Duration)
	return d, ok
}

// serialize wraps fn so that concurrent callers take turns.
func serialize(fn func(Finding)) func(Finding) {
	if fn == nil {
		return func(Finding) {}
	}
	var mu sync.Mutex
	return func(f Finding) {
		mu.Lock()
		defer mu.Unlock()
		fn(f)
	}
}

// runChecks runs the catalogue as a dependency graph: a check starts when its
// parents are done, and is skipped unless every parent is ok.
func (r *run) runChecks(found Finding) []Finding {
	done := make(map[CheckID]chan struct{}, len(catalogue))
	results := make(map[CheckID]*Finding, len(catalogue))
	for _, c := range catalogue {
		done[c.id] = make(chan struct{})
		results[c.id] = &Finding{}
	}
	*results[CheckInstanceFound] = found
	close(done[CheckInstanceFound])
	r.emit(found)

	var wg sync.WaitGroup
	for _, c := range catalogue[1:] {
		wg.Go(func() {
			defer close(done[c.id])
			for _, p := range c.dependsOn {
				<-done[p]
			}
			f := r.runOne(c, results)
			*results[c.id] = f
			r.emit(f)
		})
	}
	wg.Wait()
	findings := make([]Finding, 0, len(catalogue))
	for _, c := range catalogue {
		findings = append(findings, *results[c.id])
	}
	return findings
}

// runOne runs c if its parents allow it, within the diagnosis's deadline:
// each API call it makes is bounded by CheckTimeout (the diagnosis's context
// carries it), so that a check does not give up while its calls queue for
// the request budget.
func (r *run) runOne(c check, results map[CheckID]*Finding) Finding {
	for _, p := range c.dependsOn {
		if parent := results[p]; parent.Status != StatusOK {
			return skipped(c, fmt.Sprintf("%s %s: %s", p, parent.Status.Phrase(), parent.Title))
		}
	}
	if reason := c.disabledReason(r); reason != "" {
		return skipped(c, reason)
	}
	start := time.Now()
	f := c.run(r.ctx, r)
	if err := r.portGuess(); err != nil && f.Status == StatusOK && c.onLoginPort {
		f = unknownFinding(c.title, err)
	}
	f.Check = c.id
	f.DurationMS = time.Since(start).Milliseconds()
	if f.Status == StatusUnknown && r.ctx.Err() != nil && f.Detail == "" {
		f.Detail = "the check did not finish within the diagnosis's deadline"
	}
	return f.normalized()
}

func skipped(c check, reason string) Finding {
	return Finding{Check: c.id, Status: StatusSkipped, Severity: SeverityInfo,
		Title: c.title + ": skipped", Detail: reason}.normalized()
}

// normalized fills nil collections so the JSON has [] and {} rather than null.
func (f Finding) normalized() Finding {
	if f.Fixes == nil {
		f.Fixes = []FixAction{}
	}
	if f.Evidence == nil {
		f.Evidence = map[string]any{}
	}
	if f.Severity == "" {
		f.Severity = SeverityInfo
	}
	return f
}
