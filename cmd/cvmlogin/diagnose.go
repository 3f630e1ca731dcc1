package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cvmlogin/cvmlogin/bot"
	"github.com/cvmlogin/cvmlogin/configs"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/diag/tencent"
)

// outputFormats are the values --output takes.
var outputFormats = []string{"text", "json", "markdown", "blocks"}

func newDiagnoseCmd(g *globals) *cobra.Command {
	var (
		port     int
		symptom  string
		output   string
		progress string
		sim      simulateOptions
	)
	cmd := &cobra.Command{
		Use:   "diagnose TARGET",
		Short: "Diagnose why an instance cannot be logged in to, and print the report",
		Long: "TARGET is an instance ID (ins-abc12345), a public IPv4 address, or an instance name.\n" +
			"Exit codes: 0 nothing failed, 1 a check failed (the report says which), 2 usage or configuration error, 3 the diagnosis could not run.\n" +
			"Under `go run`, exit 1 prints a last line \"exit status 1\": it means a check failed.",
		Example: "  cvmlogin diagnose ins-sgdrop01 --simulate\n  cvmlogin diagnose ins-abc12345 --region ap-shanghai --output json\n" +
			"  cvmlogin diagnose ins-abc12345 --symptom \"Permission denied (publickey)\"",
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usageError("diagnose takes exactly one TARGET; to say what error you saw, quote it: `cvmlogin diagnose %s --symptom %q`",
					args[0], strings.Join(args[1:], " "))
			case len(args) == 0:
				return usageError("diagnose takes exactly one TARGET, e.g. `cvmlogin diagnose %s`", diag.TargetExample)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(outputFormats, output) {
				return usageError("--output %q: use one of %s", output, strings.Join(outputFormats, ", "))
			}
			if port < 0 || port > 65535 {
				return usageError("--port %d: use a port from 1 to 65535", port)
			}
			if !slices.Contains(progressModes, progress) {
				return usageError("--progress %q: use one of %s", progress, strings.Join(progressModes, ", "))
			}
			target, err := diag.ParseTarget(args[0])
			if err != nil {
				return usageError("%w", err)
			}
			cfg, err := g.loadConfig(cmd.Flags(), map[string]string{"region": "tencentcloud.region"}, configs.ForDiagnose)
			if err != nil {
				return err
			}
			if err := checkRegionFlag(cmd.Flags(), cfg); err != nil {
				return err
			}
			logger := newLogger(cfg, g.stderr)
			limiter, closeLimiter, err := optionalSharedLimiter(cmd.Context(), cfg, sim, logger)
			if err != nil {
				return err
			}
			defer closeLimiter()
			b, err := newBackend(cfg, sim, logger, nil, limiter)
			if err != nil {
				return err
			}
			defer b.Close()
			d := diag.NewDiagnoser(b.client, diagnoserOptions(cfg, b.dialer, logger))
			req := diag.Request{Target: target, Port: port, Symptom: symptom}
			if progress == "always" || progress == "auto" && isTerminal(g.stdout) {
				req.OnFinding = startProgress(g.stderr, target, cfg.TencentCloud.Region)
			}
			report, runErr := d.Diagnose(cmd.Context(), req)
			if err := writeReport(g.stdout, report, output); err != nil {
				return &exitError{code: exitCouldNot, err: fmt.Errorf("writing the report: %w", err)}
			}
			return reportExit(report, runErr)
		},
	}
	f := cmd.Flags()
	f.String("region", "", "region of the instance (default tencentcloud.region)")
	f.IntVar(&port, "port", 0, "login port (default 22 on Linux, 3389 on Windows)")
	f.StringVar(&symptom, "symptom", "", `the error message you saw, e.g. "Permission denied (publickey)": the report explains it and shows the checks that matter for it first`)
	f.StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(outputFormats, ", "))
	f.StringVar(&progress, "progress", "auto", "show each check on stderr as it finishes: auto (when stdout is a terminal), always, never")
	f.BoolVar(&sim.enabled, "simulate", false, "diagnose against the built-in Tencent Cloud simulator instead of the real API")
	f.StringVar(&sim.scenarios, "scenarios", "", "with --simulate: a JSON scenario file instead of the built-in scenarios")
	return cmd
}

// reportExit turns a diagnosis outcome into the command's exit status.
func reportExit(r *diag.Report, runErr error) error {
	switch {
	case runErr != nil:
		return &exitError{code: exitCouldNot, err: runErr}
	case r.Failed():
		return &exitError{code: exitFailed, err: errors.New("")}
	}
	return nil
}

// writeReport prints the report in the chosen format.
func writeReport(w io.Writer, r *diag.Report, format string) error {
	switch format {
	case "json":
		return writeJSON(w, r)
	case "markdown":
		return r.WriteMarkdown(w)
	case "blocks":
		buttons := map[string]string{}
		for _, action := range bot.ButtonsFor(r) {
			buttons[action] = "preview-" + action // the bot stores real opaque IDs in Redis
		}
		return writeJSON(w, map[string]any{"text": bot.ReportFallbackText(r), "blocks": bot.RenderReport(bot.ReportView{Report: r, Final: true, Buttons: buttons})})
	}
	return r.WriteText(w)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// checkRegionFlag refuses a --region that is not a Tencent Cloud region the
// SDK knows nor one listed in tencentcloud.regions: the rule Slack applies
// to /cvm-login TARGET REGION.
func checkRegionFlag(flags *pflag.FlagSet, cfg *configs.Config) error {
	if !flags.Changed("region") {
		return nil
	}
	region, _ := flags.GetString("region")
	if slices.Contains(tencent.Regions(), region) || slices.Contains(cfg.TencentCloud.Regions, region) {
		return nil
	}
	return usageError("unknown region %q: use a Tencent Cloud region such as ap-shanghai, or list it in tencentcloud.regions", region)
}

// progressModes are the values --progress takes.
var progressModes = []string{"auto", "always", "never"}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// startProgress prints at once that the diagnosis started, and returns the
// OnFinding that prints each check as it finishes: "[ 3/17] ✓ instance.state
// Instance is running". The pipeline calls it from one goroutine at a time.
func startProgress(w io.Writer, target diag.Target, region string) func(diag.Finding) {
	fmt.Fprintf(w, "Diagnosing %s in %s: %d checks…\n", target.Raw, region, len(diag.CheckIDs))
	done := 0
	return func(f diag.Finding) {
		done++
		fmt.Fprintf(w, "[%2d/%d] %s %-26s %s\n", done, len(diag.CheckIDs), f.Status.Mark(), f.Check, f.Title)
	}
}
