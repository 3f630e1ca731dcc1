// Package metrics defines cvmlogin's Prometheus metrics and serves them.
//
// A Metrics owns a dedicated registry (never the global default one) holding
// the Go runtime and process collectors and these families:
//
//	cvmlogin_diagnoses_total{result}                          result: fail, warn, ok, could_not_run
//	cvmlogin_check_duration_seconds{check}                    histogram, checks that ran (not skipped)
//	cvmlogin_check_findings_total{check,status}               status: ok, warn, fail, unknown, skipped
//	cvmlogin_tencent_api_calls_total{service,action,error_code}   error_code "none" for a success
//	cvmlogin_tencent_api_call_duration_seconds{service,action}    histogram, retries included
//	cvmlogin_diagnosis_duration_seconds{result}               histogram, whole diagnoses end to end
//	cvmlogin_slack_api_calls_total{method,status}             status: HTTP status code, Slack's error for an ok:false answer, or "error"
//	cvmlogin_slack_api_rate_limited_total{method}             HTTP 429 answers
//	cvmlogin_slack_socket_connected                           1 while a Socket Mode connection is open
//	cvmlogin_fix_requests_total{action,outcome}               see the Fix* outcome constants
//	cvmlogin_slack_ack_seconds{transport,kind}                histogram; transport http|socket, kind command|interaction|event
//	cvmlogin_slack_requests_refused_total{transport,kind,reason}  reason: unverified, too_large, malformed, replay, replay_unchecked, too_many_actions, overloaded
//	cvmlogin_report_delivery_seconds                          command (button, alarm) to final report in Slack
//	cvmlogin_reports_undelivered_total{trigger}               reports posted nowhere, nobody told; trigger: alarm, user
//	cvmlogin_job_queue_depth                                  jobs queued or being handled (the last known value while Redis fails)
//	cvmlogin_redis_up                                         1 if Redis answered the scrape's queue-depth read
//	cvmlogin_build_info{version,revision,go_version}          always 1
//
// Every family is exposed from the start, before its first event: the label
// values known in advance (results, checks, fix actions and outcomes, the
// Slack methods the bot calls, the Tencent Cloud actions given to
// DeclareTencentActions) start at zero.
//
// The diagnosis families are derived from the diag.Report (Diagnosis), so
// that diag itself knows nothing of Prometheus. Tencent Cloud calls are
// counted through the adapter's per-call hook (TencentCall), which sees the
// calls of diagnoses and fixes alike, and only there: Diagnosis ignores the
// report's call log, so no call is counted twice. Slack Web API calls are
// counted by an http.RoundTripper under slack-go (InstrumentSlack), so that
// slack-go's own retries are counted too.
//
// Every method of Metrics is safe for concurrent use.
package metrics

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cvmlogin/cvmlogin/diag"
)

// namespace prefixes every family name.
const namespace = "cvmlogin"

// The values of the result label of cvmlogin_diagnoses_total.
const (
	ResultFail        = "fail"          // at least one finding failed
	ResultWarn        = "warn"          // no failure, but a warning or an unknown
	ResultOK          = "ok"            // every check that ran is ok
	ResultCouldNotRun = "could_not_run" // the instance lookup failed: credentials, network
)

// fixOutcomes are the values of the outcome label of
// cvmlogin_fix_requests_total: the diag.FixStatus words of the steps of a fix
// request (requested, approved, rejected, refused: someone not allowed to
// decide pressed approve or reject, expired: nobody decided in time) and of
// its end (succeeded, failed, not_applicable: nothing needed changing).
// running is a state, not an event, and is not counted.
var fixOutcomes = []diag.FixStatus{diag.FixRequested, diag.FixApproved, diag.FixRejected, diag.FixRefused, diag.FixExpired, diag.FixSucceeded, diag.FixFailed, diag.FixNotApplicable}

// The label values of cvmlogin_slack_ack_seconds.
var (
	ackTransports = []string{"http", "socket"}
	ackKinds      = []string{"command", "interaction", "event"}
)

// queueDepthTimeout bounds the Redis call a scrape of job_queue_depth makes.
const queueDepthTimeout = time.Second

// Metrics holds cvmlogin's metric families and the registry that serves
// them. Create it with New.
type Metrics struct {
	registry *prometheus.Registry

	diagnoses        *prometheus.CounterVec
	checkDuration    *prometheus.HistogramVec
	checkFindings    *prometheus.CounterVec
	tencentCalls     *prometheus.CounterVec
	tencentDuration  *prometheus.HistogramVec
	slackCalls       *prometheus.CounterVec
	slackRateLimited *prometheus.CounterVec
	fixRequests      *prometheus.CounterVec
	slackAck         *prometheus.HistogramVec
	diagDuration     *prometheus.HistogramVec
	reportDelivery   prometheus.Histogram
	undelivered      *prometheus.CounterVec
	socketConnected  prometheus.Gauge
	buildInfo        *prometheus.GaugeVec

	queueDepth     atomic.Pointer[func(context.Context) (int64, error)]
	lastQueueDepth atomic.Int64
	slackRefused   *prometheus.CounterVec
}

// New returns a Metrics with a registry of its own holding every family
// listed in the package documentation except job_queue_depth (see
// WatchQueue), plus the Go runtime and process collectors. The label
// combinations known in advance (diagnosis results, fix actions and outcomes,
// ack transports and kinds) start at zero, so that they are scraped before
// they first happen.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		diagnoses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "diagnoses_total",
			Help: "Diagnoses finished, by result: fail, warn, ok, or could_not_run.",
		}, []string{"result"}),
		checkDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "check_duration_seconds",
			Help:    "How long each check that ran took.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"check"}),
		checkFindings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "check_findings_total",
			Help: "Findings of every diagnosis, by check and status.",
		}, []string{"check", "status"}),
		tencentCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tencent_api_calls_total",
			Help: "Tencent Cloud API calls (retries included in one call), by service, action and error code (none for a success).",
		}, []string{"service", "action", "error_code"}),
		tencentDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "tencent_api_call_duration_seconds",
			Help:    "How long each Tencent Cloud API call took, retries included.",
			Buckets: prometheus.DefBuckets,
		}, []string{"service", "action"}),
		slackCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "slack_api_calls_total",
			Help: "HTTP requests to the Slack Web API, retries included, by method and HTTP status (error: no response).",
		}, []string{"method", "status"}),
		slackRateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "slack_api_rate_limited_total",
			Help: "Slack Web API requests answered 429 Too Many Requests, by method.",
		}, []string{"method"}),
		fixRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "fix_requests_total",
			Help: "Fix request events, by fix action and outcome.",
		}, []string{"action", "outcome"}),
		slackAck: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "slack_ack_seconds",
			Help:    "Time from receiving a Slack request to acknowledging it, by transport and kind; Slack wants it under 3s.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 3, 5},
		}, []string{"transport", "kind"}),
		diagDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "diagnosis_duration_seconds",
			Help:    "How long whole diagnoses took, every check included, by result.",
			Buckets: []float64{.5, 1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60},
		}, []string{"result"}),
		reportDelivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "report_delivery_seconds",
			Help:    "How long users waited for a final report: from the command, button or alarm to the report in Slack (queue, diagnosis and Slack pacing).",
			Buckets: []float64{1, 2, 3, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300},
		}),
		undelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "reports_undelivered_total",
			Help: "Final reports that could be posted nowhere and of which nobody could be told (no response_url, no default alarm channel to fall back to), by trigger: alarm or user.",
		}, []string{"trigger"}),
		socketConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "slack_socket_connected",
			Help: "1 while a Socket Mode connection to Slack is open, else 0 (always 0 in HTTP mode).",
		}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info",
			Help: "Always 1; its labels say which build is running.",
		}, []string{"version", "revision", "go_version"}),
		slackRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "slack_requests_refused_total",
			Help: "Slack requests refused (bad signature, replay, too large...), by transport, kind and reason.",
		}, []string{"transport", "kind", "reason"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.diagnoses, m.checkDuration, m.checkFindings, m.tencentCalls, m.tencentDuration,
		m.slackCalls, m.slackRateLimited, m.fixRequests, m.slackAck, m.slackRefused,
		m.diagDuration, m.reportDelivery, m.undelivered, m.socketConnected, m.buildInfo, newQueueCollector(m),
	)
	m.initLabels()
	return m
}

// initLabels creates the series whose labels are known in advance.
func (m *Metrics) initLabels() {
	for _, result := range []string{ResultFail, ResultWarn, ResultOK, ResultCouldNotRun} {
		m.diagnoses.WithLabelValues(result)
		m.diagDuration.WithLabelValues(result)
	}
	for _, check := range diag.CheckIDs {
		m.checkDuration.WithLabelValues(string(check))
		for _, status := range []diag.Status{diag.StatusOK, diag.StatusWarn, diag.StatusFail, diag.StatusUnknown, diag.StatusSkipped} {
			m.checkFindings.WithLabelValues(string(check), string(status))
		}
	}
	for _, trigger := range []string{TriggerAlarm, TriggerUser} {
		m.undelivered.WithLabelValues(trigger)
	}
	for _, method := range slackMethods {
		m.slackCalls.WithLabelValues(method, "200")
		m.slackRateLimited.WithLabelValues(method)
	}
	for _, action := range diag.FixActions {
		for _, outcome := range fixOutcomes {
			m.fixRequests.WithLabelValues(string(action), string(outcome))
		}
	}
	for _, transport := range ackTransports {
		for _, kind := range ackKinds {
			m.slackAck.WithLabelValues(transport, kind)
			for _, reason := range refusalReasons {
				m.slackRefused.WithLabelValues(transport, kind, reason)
			}
		}
	}
}

// refusalReasons are the reasons a Slack transport refuses a request for
// (bot.Refused*; the bot package cannot be imported here).
var refusalReasons = []string{"unverified", "too_large", "malformed", "replay", "replay_unchecked", "too_many_actions", "overloaded"}

// Handler returns the handler serving the registry in the Prometheus text
// (or negotiated) format, for GET /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Diagnosis counts a finished diagnosis: each finding's status and (unless
// skipped) duration, then its result, so that a scrape that sees the
// diagnosis counted sees its findings too. err is Diagnose's error; a
// non-nil err counts as could_not_run. r may be nil when err is not. The
// report's API calls are not counted here: see TencentCall.
func (m *Metrics) Diagnosis(r *diag.Report, err error) {
	if r != nil {
		for _, f := range r.Findings {
			m.checkFindings.WithLabelValues(string(f.Check), string(f.Status)).Inc()
			if f.Status != diag.StatusSkipped {
				m.checkDuration.WithLabelValues(string(f.Check)).Observe(msToSeconds(f.DurationMS))
			}
		}
	}
	result := diagnosisResult(r, err)
	if r != nil {
		m.diagDuration.WithLabelValues(result).Observe(msToSeconds(r.DurationMS))
	}
	m.diagnoses.WithLabelValues(result).Inc()
}

// DeclareTencentActions starts the series of each Tencent Cloud action,
// "service:Action", at zero: no error, no call yet.
func (m *Metrics) DeclareTencentActions(actions ...string) {
	for _, a := range actions {
		service, action, _ := strings.Cut(a, ":")
		m.tencentCalls.WithLabelValues(service, action, "none")
		m.tencentDuration.WithLabelValues(service, action)
	}
}

// BuildInfo sets cvmlogin_build_info for the running build; go_version is
// the runtime's.
func (m *Metrics) BuildInfo(version, revision string) {
	m.buildInfo.WithLabelValues(version, revision, runtime.Version()).Set(1)
}

// SocketConnected sets cvmlogin_slack_socket_connected. It has the shape of
// bot.SocketOptions.OnConnection.
func (m *Metrics) SocketConnected(connected bool) {
	v := 0.0
	if connected {
		v = 1
	}
	m.socketConnected.Set(v)
}

// diagnosisResult is the result label of a diagnosis.
func diagnosisResult(r *diag.Report, err error) string {
	switch {
	case err != nil || r == nil:
		return ResultCouldNotRun
	case r.Summary.Fail > 0:
		return ResultFail
	case r.Summary.Warn > 0 || r.Summary.Unknown > 0:
		return ResultWarn
	}
	return ResultOK
}

// FixEvent counts a step of a fix request: action is a diag.FixAction,
// outcome one of fixOutcomes.
func (m *Metrics) FixEvent(action string, outcome diag.FixStatus) {
	m.fixRequests.WithLabelValues(action, string(outcome)).Inc()
}

// TencentCall counts one logical Tencent Cloud API call. It has the shape of
// the adapter's tencent.Config.OnCall hook.
func (m *Metrics) TencentCall(c diag.APICall) {
	code := c.ErrorCode
	if code == "" {
		code = "none"
	}
	m.tencentCalls.WithLabelValues(c.Service, c.Action, code).Inc()
	m.tencentDuration.WithLabelValues(c.Service, c.Action).Observe(msToSeconds(c.DurationMS))
}

// AckObserver returns the function a Slack transport ("http" or "socket")
// calls with the kind of each request it acknowledged ("command",
// "interaction" or "event") and how long that took.
func (m *Metrics) AckObserver(transport string) func(kind string, d time.Duration) {
	return func(kind string, d time.Duration) {
		m.slackAck.WithLabelValues(transport, kind).Observe(d.Seconds())
	}
}

// ReportDelivered observes how long a user waited for a final report.
func (m *Metrics) ReportDelivered(d time.Duration) { m.reportDelivery.Observe(d.Seconds()) }

// The values of the trigger label of cvmlogin_reports_undelivered_total.
const (
	TriggerAlarm = "alarm" // a monitoring alarm asked for the diagnosis
	TriggerUser  = "user"  // a person did: a mention, a form, a button
)

// ReportUndelivered counts a final report that could be posted nowhere and
// of which nobody could be told; trigger is TriggerAlarm or TriggerUser.
func (m *Metrics) ReportUndelivered(trigger string) { m.undelivered.WithLabelValues(trigger).Inc() }

// RefusalObserver returns the function a Slack transport ("http" or
// "socket") calls with the kind of each request it refused and why.
func (m *Metrics) RefusalObserver(transport string) func(kind, reason string) {
	return func(kind, reason string) {
		m.slackRefused.WithLabelValues(transport, kind, reason).Inc()
	}
}

// WatchQueue makes cvmlogin_job_queue_depth read depth, with a one-second
// deadline, at each scrape. While depth fails the gauge keeps its last known
// value (never NaN, which alert expressions cannot compare) and
// cvmlogin_redis_up reads 0. Before WatchQueue, the depth reads 0.
func (m *Metrics) WatchQueue(depth func(context.Context) (int64, error)) {
	m.queueDepth.Store(&depth)
}

// queueCollector collects cvmlogin_job_queue_depth and cvmlogin_redis_up
// from one read of the queue depth per scrape.
type queueCollector struct {
	m                 *Metrics
	depthDesc, upDesc *prometheus.Desc
}

func newQueueCollector(m *Metrics) *queueCollector {
	return &queueCollector{
		m: m,
		depthDesc: prometheus.NewDesc(namespace+"_job_queue_depth",
			"Jobs in the shared job queue: waiting for a worker or being handled (the last known value while Redis fails: see cvmlogin_redis_up).", nil, nil),
		upDesc: prometheus.NewDesc(namespace+"_redis_up",
			"1 if Redis answered the queue-depth read of this scrape, else 0.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depthDesc
	ch <- c.upDesc
}

// Collect implements prometheus.Collector.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	up := 1.0
	if depth := c.m.queueDepth.Load(); depth != nil {
		ctx, cancel := context.WithTimeout(context.Background(), queueDepthTimeout)
		n, err := (*depth)(ctx)
		cancel()
		if err != nil {
			up = 0
		} else {
			c.m.lastQueueDepth.Store(n)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.depthDesc, prometheus.GaugeValue, float64(c.m.lastQueueDepth.Load()))
	ch <- prometheus.MustNewConstMetric(c.upDesc, prometheus.GaugeValue, up)
}

func msToSeconds(ms int64) float64 { return float64(ms) / 1000 }
