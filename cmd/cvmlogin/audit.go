package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cvmlogin/cvmlogin/configs"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

func newAuditCmd(g *globals) *cobra.Command {
	var (
		since    time.Duration
		instance string
		output   string
	)
	cmd := &cobra.Command{
		Use:     "audit",
		Short:   "Print the audit trail: every diagnosis, fix request, decision, execution and outcome",
		Example: "  cvmlogin audit --since 24h\n  cvmlogin audit --instance ins-abc12345 --output json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since <= 0 {
				return usageError("--since %s: use a positive duration such as 24h", since)
			}
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
			events, err := store.AuditEvents(cmd.Context(), time.Now().Add(-since), instance)
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
	cmd.Flags().DurationVar(&since, "since", 24*time.Hour, "how far back to look")
	cmd.Flags().StringVar(&instance, "instance", "", "only events about this instance ID")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// writeAudit prints events as a table, oldest first.
func writeAudit(g *globals, events []conversations.Event) {
	if len(events) == 0 {
		fmt.Fprintln(g.stdout, "No audit events in that window.")
		return
	}
	tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tINSTANCE\tFIX\tRESULT\tTENCENT REQUEST\tDETAILS")
	for _, e := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), dash(e.Actor), e.Action,
			dash(e.InstanceID), dash(e.FixRequestID), dash(oneLine(e.Result)), dash(e.RequestID), params(e.Params))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
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
	return dash(strings.Join(parts, " "))
}
