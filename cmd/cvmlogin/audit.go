package main

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/cvmlogin/cvmlogin/configs"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

func newAuditCmd(g *globals) *cobra.Command {
	var (
		since    = sinceValue(24 * time.Hour)
		instance string
		output   string
	)
	cmd := &cobra.Command{
		Use:     "audit",
		Short:   "Print the audit trail: every diagnosis, fix request, decision, execution and outcome",
		Example: "  cvmlogin audit --since 7d\n  cvmlogin audit --instance ins-abc12345 --output json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if instance != "" {
				if t, err := diag.ParseTarget(instance); err != nil || t.Kind != diag.TargetInstanceID {
					return usageError("--instance %q: give an instance ID such as %s", instance, diag.TargetExample)
				}
			}
			if output != "text" && output != "json" {
				return usageError("--output %q: use text or json", output)
			}
			cfg, err := g.loadConfig(cmd.Flags(), map[string]string{}, configs.ForDiagnose)
			if err != nil {
				return err
			}
			store, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			events, err := store.AuditEvents(cmd.Context(), time.Now().Add(-time.Duration(since)), instance)
			if err != nil {
				return &exitError{code: exitCouldNot, err: fmt.Errorf("reading the audit stream: %w", err)}
			}
			if output == "json" {
				return writeJSON(g.stdout, events)
			}
			writeAudit(g, events)
			return nil
		},
	}
	cmd.Flags().Var(&since, "since", "how far back to look: a duration such as 36h, 90m, or days such as 7d")
	cmd.Flags().StringVar(&instance, "instance", "", "only events about this instance ID: its history")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// sinceValue is --since: a positive duration that also takes days ("7d",
// "1d12h"), which time.ParseDuration does not.
type sinceValue time.Duration

var daysPrefix = regexp.MustCompile(`^(\d+)d`)

func (s *sinceValue) Set(text string) error {
	var days time.Duration
	rest := text
	if m := daysPrefix.FindStringSubmatch(text); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 3650 {
			return fmt.Errorf("%q: at most 3650 days", text)
		}
		days, rest = time.Duration(n)*24*time.Hour, text[len(m[0]):]
	}
	d := time.Duration(0)
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return fmt.Errorf("%q is not a duration: use e.g. 24h, 90m or 7d", text)
		}
	}
	if days+d <= 0 {
		return fmt.Errorf("%q: use a positive duration such as 24h or 7d", text)
	}
	*s = sinceValue(days + d)
	return nil
}

func (s *sinceValue) String() string { return time.Duration(*s).String() }
func (s *sinceValue) Type() string   { return "duration" }

// maxAuditLine bounds the indented lines under an event in text output.
const maxAuditLine = 110

// writeAudit prints events oldest first, each as a line saying when, where,
// who, what and on which instance, then indented lines for the result and
// the details, each at most maxAuditLine characters.
func writeAudit(g *globals, events []conversations.Event) {
	if len(events) == 0 {
		fmt.Fprintln(g.stdout, "No audit events in that window.")
		return
	}
	for _, e := range events {
		where := strings.TrimSpace(e.InstanceID + " " + e.Region)
		fmt.Fprintln(g.stdout, strings.Join(nonEmpty(e.Time.UTC().Format("2006-01-02 15:04:05Z"), slackRef("#", e.Channel), slackRef("@", e.Actor), e.Action, where), "  "))
		if e.Result != "" {
			fmt.Fprintln(g.stdout, "    "+clipLine(e.Result))
		}
		details := nonEmpty(labelled("fix ", e.FixRequestID), labelled("Tencent request ", e.RequestID), params(e.Params))
		if len(details) > 0 {
			fmt.Fprintln(g.stdout, "    "+clipLine(strings.Join(details, " · ")))
		}
	}
}

// slackRef writes a Slack user or channel ID the way Slack links it
// (<@U…>, <#C…>), so that pasted into Slack it shows the name; anything
// else (the bot's own "cvmlogin") stays as it is.
func slackRef(sigil, id string) string {
	if id == "" || !slackID.MatchString(id) {
		return id
	}
	return "<" + sigil + id + ">"
}

var slackID = regexp.MustCompile(`^[UWCGD][A-Z0-9]{2,}$`)

func labelled(label, value string) string {
	if value == "" {
		return ""
	}
	return label + value
}

func nonEmpty(parts ...string) []string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// clipLine puts s on one line of at most maxAuditLine characters.
func clipLine(s string) string {
	s = oneLine(s)
	if utf8.RuneCountInString(s) <= maxAuditLine {
		return s
	}
	return string([]rune(s)[:maxAuditLine-1]) + "…"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// params renders event parameters as sorted key=value pairs.
func params(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k, v := range p {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + oneLine(p[k])
	}
	return strings.Join(parts, " ")
}
