package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cvmlogin/cvmlogin/configs"
	"github.com/cvmlogin/cvmlogin/internal/logging"
)

// version and revision are set at build time with
// -ldflags "-X main.version=… -X main.revision=…" (the Dockerfile does);
// buildVersion falls back on what the Go toolchain recorded.
var (
	version  = ""
	revision = ""
)

// buildInfo says which build is running.
type buildInfo struct{ version, revision string }

// buildVersion returns the version and revision stamped with -ldflags, else
// those the Go toolchain recorded (the module version for `go install
// …@v1.2.3`, the VCS revision for a build in a git checkout), else "dev" and
// "unknown".
func buildVersion() buildInfo {
	v := buildInfo{version: version, revision: revision}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v.version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v.version = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && v.revision == "" {
				v.revision = s.Value
			}
		}
	}
	if v.version == "" {
		v.version = "dev"
	}
	if v.revision == "" {
		v.revision = "unknown"
	}
	return v
}

// Exit codes of every command (design.md B1).
const (
	exitOK       = 0 // no finding failed
	exitFailed   = 1 // at least one finding failed
	exitUsage    = 2 // usage or configuration error
	exitCouldNot = 3 // the diagnosis could not run
)

// exitError carries an exit code out of a cobra command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// globals are the flags every command shares.
type globals struct {
	configFile string
	stdout     io.Writer
	stderr     io.Writer
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "cvmlogin",
		Short:         "Diagnose and fix \"I can't log in to my Tencent Cloud CVM instance\"",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configFile, "config", "", "YAML configuration file")
	root.PersistentFlags().String("log-level", "", "log level: debug, info, warn or error (overrides log.level)")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%w", err) })
	root.AddCommand(newDiagnoseCmd(g), newServeCmd(g), newSimulateCmd(g), newAuditCmd(g), newConfigCmd(g), newHealthcheckCmd(g), newVersionCmd(g))

	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		ee = &exitError{code: exitUsage, err: err} // cobra's own errors: unknown command, bad args
	}
	if ee.err != nil && ee.err.Error() != "" {
		fmt.Fprintf(stderr, "cvmlogin: %v\n", ee.err)
	}
	return ee.code
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			v := buildVersion()
			fmt.Fprintf(g.stdout, "cvmlogin %s (revision %s, %s)\n", v.version, v.revision, runtime.Version())
		},
	}
}

// loadConfig loads the configuration with flags > env > file > defaults and
// fails with a usage error listing every critical problem.
func (g *globals) loadConfig(flags *pflag.FlagSet, flagKeys map[string]string, purpose configs.Purpose) (*configs.Config, error) {
	flagKeys["log-level"] = "log.level"
	cfg, err := configs.Load(configs.LoadOptions{File: g.configFile, Environ: os.Environ(), Flags: flags, FlagKeys: flagKeys})
	if err != nil {
		return nil, usageError("loading configuration: %w", err)
	}
	problems := cfg.ValidateFor(purpose)
	var lines []string
	for _, p := range problems {
		lines = append(lines, fmt.Sprintf("  %s: %s", p.Severity, p))
	}
	if configs.HasCritical(problems) {
		return nil, usageError("invalid configuration:\n%s", strings.Join(lines, "\n"))
	}
	if len(lines) > 0 {
		fmt.Fprintf(g.stderr, "cvmlogin: configuration warnings:\n%s\n", strings.Join(lines, "\n"))
	}
	return cfg, nil
}

// newLogger builds the process logger from log.level and log.format. Its
// records carry the diag_id of their context (see internal/logging).
func newLogger(cfg *configs.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level)) // validated already
	return logging.New(w, cfg.Log.Format, level)
}
