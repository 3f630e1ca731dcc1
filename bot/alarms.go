package bot

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/time/rate"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

// The alarm endpoints (design.md B7).
const (
	AlarmPathTencent = "/alarms/tencent"
	AlarmPathWebhook = "/alarms/webhook"
	// AlarmTokenHeader carries alarms.token; Tencent's callback cannot set
	// headers (it has no authentication), so ?token= in its URL works too.
	AlarmTokenHeader = "X-Cvmlogin-Token"
)

// maxAlarmBody bounds an alarm request body. Tencent's callbacks are a few
// KiB.
const maxAlarmBody = 64 << 10

// Alarm is a request to diagnose an instance because a monitoring alarm
// fired. It can only start a diagnosis: never a fix.
type Alarm struct {
	InstanceID string
	// Region is the instance's region, or "" when the alarm did not say (the
	// configured regions are searched).
	Region string
	// Channel is where to post, or "" for the configured alarms.channel.
	Channel string
	// PolicyID is the Tencent alarm policy that fired, when there is one.
	PolicyID string
	// Summary is one line of context for the report: which alarm, which
	// metric, which value. It is plain text from the alarm, escaped where
	// it is shown.
	Summary string
}

// AlarmResult says what became of an alarm.
type AlarmResult struct {
	// Status is "queued", "coalesced" (the instance is already being
	// diagnosed) or "ignored" (a resolved alarm).
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// The statuses of an AlarmResult.
const (
	AlarmQueued    = "queued"
	AlarmCoalesced = "coalesced"
	AlarmIgnored   = "ignored"
)

// AlarmStarter starts the diagnosis an alarm asks for. *Bot satisfies it.
type AlarmStarter interface {
	StartAlarm(ctx context.Context, a Alarm, admit func() bool) (AlarmResult, error)
}

// ErrAlarmRefused wraps the reasons an alarm is not acted on that retrying
// cannot change: no channel to post in, or a channel the bot may not use.
var ErrAlarmRefused = errors.New("alarm refused")

// ErrAlarmThrottled is returned when an alarm would start a diagnosis but
// the alarm rate limit has no room: the sender should retry shortly.
var ErrAlarmThrottled = errors.New("too many alarms: try again shortly")

// StartAlarm implements AlarmStarter: it queues a diagnosis of the alarm's
// instance, posted in the alarm's channel (or alarms.channel) with the
// alarm's summary as its note, unless the instance is already being
// diagnosed. admit is asked only for an alarm that would start a diagnosis,
// so that a storm of alarms for one instance, diagnosed once anyway, spends
// none of the rate limit; when it says no, StartAlarm returns
// ErrAlarmThrottled. It never starts a fix.
func (b *Bot) StartAlarm(ctx context.Context, a Alarm, admit func() bool) (AlarmResult, error) {
	channel := a.Channel
	if channel == "" {
		channel = b.opts.AlarmChannel
	}
	switch {
	case channel == "":
		return AlarmResult{}, fmt.Errorf("%w: no channel to post in: set alarms.channel or send \"channel\"", ErrAlarmRefused)
	case !b.channelAllowed(channel):
		return AlarmResult{}, fmt.Errorf("%w: channel %s is not in access.allowed_channels", ErrAlarmRefused, channel)
	}
	c := conversations.Conversation{ID: conversations.NewID(), Target: a.InstanceID, Region: a.Region}
	job := conversations.Job{ID: conversations.NewID(), Kind: conversations.JobDiagnose, ConversationID: c.ID,
		Target: c.Target, Region: c.Region, Channel: channel, Trigger: a.Summary}
	_, busy, err := b.coalesce(ctx, c, job.ID)
	switch {
	case err != nil:
		return AlarmResult{}, err
	case busy:
		return AlarmResult{Status: AlarmCoalesced, Message: a.InstanceID + " is already being diagnosed"}, nil
	case !admit():
		b.release(c, job.ID)
		return AlarmResult{}, ErrAlarmThrottled
	}
	job.QueuedAt = time.Now()
	if err := b.store.Enqueue(ctx, job); err != nil {
		b.release(c, job.ID)
		return AlarmResult{}, err
	}
	return AlarmResult{Status: AlarmQueued, Message: "the report will be posted in " + channel}, nil
}

// InstanceTagger reads an instance's tags, key to value, in region ("" for
// the regions configured). *diag.TagReader is one.
type InstanceTagger interface {
	InstanceTags(ctx context.Context, region, instanceID string) (map[string]string, error)
}

// AlarmOptions configure the alarm endpoints (config keys alarms.*). An
// alarm goes to the channel the webhook names, else its policy's
// (PolicyChannels), else the first route of TagChannels, in sorted order,
// whose tag its instance carries, else the default alarm channel
// (Options.AlarmChannel).
type AlarmOptions struct {
	// Token authenticates callers; empty disables the endpoints.
	Token string
	// PolicyChannels routes a Tencent alarm policy ID to a channel.
	PolicyChannels map[string]string
	// TagChannels routes an instance tag, "key=value", to a channel.
	// Keys and values match without regard to case: configuration keys
	// are lower-cased.
	TagChannels map[string]string
	// Tags reads the instance's tags for TagChannels; nil switches tag
	// routing off. It is asked only when no earlier route matches.
	Tags InstanceTagger
	// Rate and Burst bound the alarms accepted per second by this process,
	// so an alarm storm cannot flood the queue. Defaults 1 and 20.
	Rate  rate.Limit
	Burst int
	// Timeout bounds the handling of one alarm; Tencent gives up after 5 s.
	// Default 4s.
	Timeout time.Duration
	Logger  *slog.Logger
}

// AlarmHandler serves the alarm endpoints.
type AlarmHandler struct {
	starter AlarmStarter
	opts    AlarmOptions
	limiter *rate.Limiter
	log     *slog.Logger
}

// NewAlarmHandler returns the alarm endpoints' handler.
func NewAlarmHandler(starter AlarmStarter, opts AlarmOptions) *AlarmHandler {
	if opts.Rate <= 0 {
		opts.Rate = 1
	}
	if opts.Burst <= 0 {
		opts.Burst = 20
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 4 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &AlarmHandler{starter: starter, opts: opts, limiter: rate.NewLimiter(opts.Rate, opts.Burst),
		log: opts.Logger.With("component", "alarms")}
}

// Register adds the endpoints to mux. With no token configured they are not
// registered, so they answer 404.
func (h *AlarmHandler) Register(mux *http.ServeMux) {
	if h.opts.Token == "" {
		return
	}
	mux.Handle("POST "+AlarmPathTencent, h.endpoint(parseTencentAlarm))
	mux.Handle("POST "+AlarmPathWebhook, h.endpoint(parseWebhookAlarm))
}

// errResolved marks an alarm that says its condition is over.
var errResolved = errors.New("the alarm is resolved: nothing to diagnose")

func (h *AlarmHandler) endpoint(parse func([]byte) (Alarm, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.authorised(r) {
			writeAlarmResult(w, http.StatusUnauthorized, AlarmResult{Status: "refused", Message: "missing or wrong alarms token"})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAlarmBody))
		if err != nil {
			writeAlarmResult(w, http.StatusRequestEntityTooLarge, AlarmResult{Status: "refused", Message: "body too large or unreadable"})
			return
		}
		a, err := parse(body)
		switch {
		case errors.Is(err, errResolved):
			writeAlarmResult(w, http.StatusOK, AlarmResult{Status: AlarmIgnored, Message: err.Error()})
			return
		case err != nil:
			writeAlarmResult(w, http.StatusUnprocessableEntity, AlarmResult{Status: "refused", Message: err.Error()})
			return
		}
		a.Summary = cleanSummary(a.Summary)
		h.start(w, r, a)
	})
}

func (h *AlarmHandler) start(w http.ResponseWriter, r *http.Request, a Alarm) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	a = h.route(ctx, a)
	res, err := h.starter.StartAlarm(ctx, a, h.limiter.Allow)
	if errors.Is(err, ErrAlarmThrottled) {
		h.log.WarnContext(ctx, "refused an alarm: over the alarm rate limit", "instance", a.InstanceID, "policy", a.PolicyID)
		w.Header().Set("Retry-After", "5")
		writeAlarmResult(w, http.StatusTooManyRequests, AlarmResult{Status: "refused", Message: err.Error()})
		return
	}
	if errors.Is(err, ErrAlarmRefused) {
		writeAlarmResult(w, http.StatusUnprocessableEntity, AlarmResult{Status: "refused", Message: err.Error()})
		return
	}
	if err != nil {
		h.log.ErrorContext(ctx, "starting a diagnosis for an alarm", "instance", a.InstanceID, "policy", a.PolicyID, "err", err)
		writeAlarmResult(w, http.StatusServiceUnavailable, AlarmResult{Status: "failed", Message: "the diagnosis could not be queued; the alarm may be sent again"})
		return
	}
	h.log.InfoContext(ctx, "alarm", "instance", a.InstanceID, "policy", a.PolicyID, "channel", a.Channel, "status", res.Status)
	writeAlarmResult(w, http.StatusAccepted, res)
}

// route sets the alarm's channel when a route matches, leaving "" for the
// default alarm channel, and notes in its summary a route by tag, or tags
// that could not be read. It reads the instance's tags only when they
// decide: no channel named, no policy route, some tag routes.
func (h *AlarmHandler) route(ctx context.Context, a Alarm) Alarm {
	if a.Channel == "" {
		a.Channel = h.opts.PolicyChannels[a.PolicyID]
	}
	if a.Channel != "" || len(h.opts.TagChannels) == 0 || h.opts.Tags == nil {
		return a
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.Timeout/2) // leave time to queue the diagnosis
	defer cancel()
	tags, err := h.opts.Tags.InstanceTags(ctx, a.Region, a.InstanceID)
	if err != nil {
		h.log.WarnContext(ctx, "reading an alarm's instance tags: using the default alarm channel", "instance", a.InstanceID, "err", err)
		a.Summary += fmt.Sprintf(" · its tags could not be read (%s), so it went to the default alarm channel", truncateText(err.Error(), 160, "…"))
		return a
	}
	if tag, channel := matchTag(h.opts.TagChannels, tags); channel != "" {
		a.Channel = channel
		a.Summary += " · routed here by its tag " + tag
	}
	return a
}

// matchTag returns the first route of routes ("key=value" to channel), in
// sorted order, that tags match, as the instance spells the tag, and its
// channel; "" and "" when none does.
func matchTag(routes, tags map[string]string) (tag, channel string) {
	for _, route := range slices.Sorted(maps.Keys(routes)) {
		key, value, _ := strings.Cut(route, "=")
		for k, v := range tags {
			if strings.EqualFold(k, strings.TrimSpace(key)) && strings.EqualFold(v, strings.TrimSpace(value)) {
				return k + "=" + v, routes[route]
			}
		}
	}
	return "", ""
}

// authorised compares the token in constant time.
func (h *AlarmHandler) authorised(r *http.Request) bool {
	got := r.Header.Get(AlarmTokenHeader)
	if got == "" {
		got = r.URL.Query().Get("token")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.Token)) == 1
}

func writeAlarmResult(w http.ResponseWriter, status int, res AlarmResult) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}

// webhookAlarm is the generic webhook's body.
type webhookAlarm struct {
	InstanceID string `json:"instance_id"`
	Region     string `json:"region"`
	Channel    string `json:"channel"`
	Summary    string `json:"summary"`
}

func parseWebhookAlarm(body []byte) (Alarm, error) {
	var in webhookAlarm
	if err := decodeStrict(body, &in); err != nil {
		return Alarm{}, err
	}
	a := Alarm{InstanceID: in.InstanceID, Region: in.Region, Channel: in.Channel, Summary: in.Summary}
	if a.Summary == "" {
		a.Summary = "webhook alarm"
	}
	return a, validateAlarm(a)
}

// tencentAlarm is the Cloud Monitor alarm callback body (Tencent Cloud
// Observability Platform, "Alarm Callback Description": product 248/38919).
// Tencent documents most values as strings but some senders use numbers,
// so every scalar is a flexString.
type tencentAlarm struct {
	SessionID    flexString `json:"sessionId"`
	AlarmStatus  flexString `json:"alarmStatus"` // "1" alarmed, "0" resolved
	AlarmType    flexString `json:"alarmType"`   // "metric" or "event"
	AlarmObjInfo struct {
		Region     flexString            `json:"region"` // short form: "gz"
		Namespace  flexString            `json:"namespace"`
		Dimensions map[string]flexString `json:"dimensions"`
	} `json:"alarmObjInfo"`
	AlarmPolicyInfo struct {
		PolicyID        flexString `json:"policyId"`
		PolicyName      flexString `json:"policyName"`
		PolicyTypeCName flexString `json:"policyTypeCName"`
		Conditions      struct {
			MetricName     flexString `json:"metricName"`
			MetricShowName flexString `json:"metricShowName"`
			CalcType       flexString `json:"calcType"`
			CalcValue      flexString `json:"calcValue"`
			CalcUnit       flexString `json:"calcUnit"`
			CurrentValue   flexString `json:"currentValue"`
			EventName      flexString `json:"eventName"`
			EventShowName  flexString `json:"eventShowName"`
		} `json:"conditions"`
	} `json:"alarmPolicyInfo"`
	FirstOccurTime flexString `json:"firstOccurTime"`
	DurationTime   flexString `json:"durationTime"`
}

func parseTencentAlarm(body []byte) (Alarm, error) {
	var in tencentAlarm
	if err := json.Unmarshal(body, &in); err != nil {
		return Alarm{}, fmt.Errorf("not a Cloud Monitor alarm callback: %w", err)
	}
	if in.AlarmStatus == "0" {
		return Alarm{}, errResolved
	}
	dims := in.AlarmObjInfo.Dimensions
	a := Alarm{
		InstanceID: string(firstNonEmpty(dims["unInstanceId"], dims["InstanceId"], dims["instanceId"], dims["objId"])),
		Region:     tencentRegion(string(in.AlarmObjInfo.Region)),
		PolicyID:   string(in.AlarmPolicyInfo.PolicyID),
		Summary:    in.summary(),
	}
	return a, validateAlarm(a)
}

// summary is one line: "Alarm policy web-cpu: CPU utilization > 90% (now 97%) since 2026-11-28 04:18:31".
func (in tencentAlarm) summary() string {
	p, c := in.AlarmPolicyInfo, in.AlarmPolicyInfo.Conditions
	what := string(firstNonEmpty(c.MetricShowName, c.MetricName, c.EventShowName, c.EventName, p.PolicyTypeCName))
	if c.CalcType != "" && c.CalcValue != "" {
		what += fmt.Sprintf(" %s %s%s", c.CalcType, c.CalcValue, c.CalcUnit)
	}
	if c.CurrentValue != "" {
		what += fmt.Sprintf(" (now %s%s)", c.CurrentValue, c.CalcUnit)
	}
	s := fmt.Sprintf("Cloud Monitor alarm %q: %s", string(firstNonEmpty(p.PolicyName, p.PolicyID, "unnamed")), strings.TrimSpace(what))
	if in.FirstOccurTime != "" {
		s += " since " + string(in.FirstOccurTime)
	}
	return s
}

// maxAlarmSummary bounds an alarm's summary, in characters, so that the
// route noted after it still fits the report's note.
const maxAlarmSummary = 300

// cleanSummary is an alarm's summary as the report may show it: control
// and bidi-override characters (terminal escapes, bells, newlines) turned
// into spaces, cut to maxAlarmSummary characters.
func cleanSummary(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
	return truncateText(strings.TrimSpace(s), maxAlarmSummary, "…")
}

func validateAlarm(a Alarm) error {
	t, err := diag.ParseTarget(a.InstanceID)
	if err != nil || t.Kind != diag.TargetInstanceID {
		return fmt.Errorf("the alarm names no CVM instance ID (ins-xxxxxxxx): got %q", truncateText(a.InstanceID, 40, "…"))
	}
	if a.Region != "" && !regionShape.MatchString(a.Region) {
		return fmt.Errorf("%q is not a region name", truncateText(a.Region, 40, "…"))
	}
	return nil
}

// tencentRegionAliases maps the short region names Cloud Monitor callbacks
// carry to region IDs. A full region ID passes through; an unknown short
// name becomes "" so the configured regions are searched instead.
var tencentRegionAliases = map[string]string{
	"gz": "ap-guangzhou", "sh": "ap-shanghai", "bj": "ap-beijing", "cd": "ap-chengdu",
	"cq": "ap-chongqing", "nj": "ap-nanjing", "hk": "ap-hongkong", "sg": "ap-singapore",
	"jkt": "ap-jakarta", "th": "ap-bangkok", "kr": "ap-seoul", "jp": "ap-tokyo",
	"in": "ap-mumbai", "usw": "na-siliconvalley", "use": "na-ashburn", "ca": "na-toronto",
	"de": "eu-frankfurt", "sao": "sa-saopaulo", "szjr": "ap-shenzhen-fsi",
	"shjr": "ap-shanghai-fsi", "bjjr": "ap-beijing-fsi",
}

func tencentRegion(r string) string {
	r = strings.ToLower(strings.TrimSpace(r))
	if regionShape.MatchString(r) {
		return r
	}
	return tencentRegionAliases[r]
}

// flexString decodes a JSON string or number as a string.
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %.20s", b)
	}
	*f = flexString(n.String())
	return nil
}

func firstNonEmpty(vs ...flexString) flexString {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// decodeStrict decodes one JSON object and refuses unknown fields, so a typo
// in a hand-written webhook is reported instead of ignored.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the body is not the webhook's JSON ({\"instance_id\", \"region\"?, \"channel\"?}): %w", err)
	}
	return nil
}
