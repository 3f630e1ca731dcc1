package main

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cvmlogin/cvmlogin/diag/tencentsim"
)

func newSimulateCmd(g *globals) *cobra.Command {
	var (
		listen    string
		scenarios string
		latency   time.Duration
		faults    []string
		limits    []string
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run the Tencent Cloud API simulator standalone",
		Long: "Serves the Tencent Cloud APIs cvmlogin calls, with TC3 signature checks, on a loopback address,\n" +
			"with the built-in scenario instances (or --scenarios FILE). Point cvmlogin at it with\n" +
			"tencentcloud.endpoint and tencentcloud.scheme=http. --fault service:Action=CODE makes every call of\n" +
			"that action fail with CODE, e.g. to rehearse a denied permission. --rate-limit N makes every action\n" +
			"accept N requests per second (service:Action=N one action), answering RequestLimitExceeded beyond,\n" +
			"as Tencent Cloud limits each API per account; by default nothing is limited.",
		Example: "  cvmlogin simulate --fault tat:RunCommand=UnauthorizedOperation.CamNoAuth --fault monitor:GetMonitorData=InternalError\n" +
			"  cvmlogin simulate --latency 100ms --rate-limit 3 --rate-limit vpc:DescribeSecurityGroupPolicies=1",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireLoopback(listen); err != nil {
				return err
			}
			list, err := loadScenarios(scenarios)
			if err != nil {
				return err
			}
			parsed, err := parseFaults(faults)
			if err != nil {
				return err
			}
			rateLimits, err := parseRateLimits(limits)
			if err != nil {
				return err
			}
			sim := tencentsim.New(tencentsim.Options{Scenarios: list, Latency: latency, RateLimits: rateLimits})
			injectFaults(sim, parsed)
			endpoint, err := sim.Start(listen)
			if err != nil {
				return &exitError{code: exitCouldNot, err: fmt.Errorf("starting the simulator on %s: %w", listen, err)}
			}
			defer sim.Close()
			printSimulator(g, sim, endpoint)
			<-cmd.Context().Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9000", "loopback address to serve on")
	cmd.Flags().StringVar(&scenarios, "scenarios", "", "JSON scenario file instead of the built-in scenarios")
	cmd.Flags().DurationVar(&latency, "latency", 0, "latency added to every API call, e.g. 150ms")
	addFaultFlag(cmd, &faults)
	cmd.Flags().StringArrayVar(&limits, "rate-limit", nil,
		"N: every action accepts N requests per second; service:Action=N: that action (repeatable; 0 lifts a limit)")
	return cmd
}

// parseRateLimits parses --rate-limit values, "N" (every action) or
// "service:Action=N" each.
func parseRateLimits(values []string) ([]tencentsim.RateLimit, error) {
	var out []tencentsim.RateLimit
	for _, v := range values {
		l := tencentsim.RateLimit{}
		perSecond := v
		if api, n, ok := strings.Cut(v, "="); ok {
			perSecond = n
			l.Service, l.Action, ok = strings.Cut(api, ":")
			if !ok || l.Service == "" || l.Action == "" {
				return nil, usageError("--rate-limit %q: want N or service:Action=N, e.g. vpc:DescribeSecurityGroupPolicies=1", v)
			}
		}
		n, err := strconv.Atoi(perSecond)
		if err != nil || n < 0 {
			return nil, usageError("--rate-limit %q: want a number of requests per second, 0 or more", v)
		}
		l.PerSecond = n
		out = append(out, l)
	}
	return out, nil
}

// addFaultFlag adds the repeatable --fault flag, collected into faults.
func addFaultFlag(cmd *cobra.Command, faults *[]string) {
	cmd.Flags().StringArrayVar(faults, "fault", nil, "service:Action=CODE: every call of the simulator's action fails with CODE (repeatable)")
}

// simFault is one --fault: every call of Service's Action fails with Code.
type simFault struct{ service, action, code string }

// parseFaults parses --fault values, "service:Action=CODE" each.
func parseFaults(values []string) ([]simFault, error) {
	var out []simFault
	for _, v := range values {
		api, code, ok := strings.Cut(v, "=")
		service, action, ok2 := strings.Cut(api, ":")
		if !ok || !ok2 || service == "" || action == "" || code == "" {
			return nil, usageError("--fault %q: want service:Action=CODE, e.g. tat:RunCommand=UnauthorizedOperation.CamNoAuth", v)
		}
		out = append(out, simFault{service, action, code})
	}
	return out, nil
}

// injectFaults sets each fault on sim.
func injectFaults(sim *tencentsim.Sim, faults []simFault) {
	for _, f := range faults {
		sim.SetFault(f.service, f.action, f.code)
	}
}

// requireLoopback refuses to serve fake cloud APIs beyond this host.
func requireLoopback(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usageError("--listen %q: %w", listen, err)
	}
	if host == "localhost" {
		return nil
	}
	if addr, err := netip.ParseAddr(host); err != nil || !addr.IsLoopback() {
		return usageError("--listen %q: the simulator only serves on a loopback address such as 127.0.0.1:9000", listen)
	}
	return nil
}

func printSimulator(g *globals, sim *tencentsim.Sim, endpoint string) {
	fmt.Fprintf(g.stdout, "Tencent Cloud API simulator on http://%s (press Ctrl-C to stop)\n\n", endpoint)
	fmt.Fprintf(g.stdout, "Point cvmlogin at it:\n  export CVMLOGIN_TENCENTCLOUD_ENDPOINT=%s CVMLOGIN_TENCENTCLOUD_SCHEME=http\n", endpoint)
	fmt.Fprintf(g.stdout, "  export TENCENTCLOUD_SECRET_ID=%s TENCENTCLOUD_SECRET_KEY=%s  # the simulator's test key\n", tencentsim.TestSecretID, tencentsim.TestSecretKey)
	fmt.Fprintf(g.stdout, "  export CVMLOGIN_DIAGNOSIS_PORT_PROBE=false  # scenario IPs are loopback stand-ins; use --simulate for a simulated probe\n")
	fmt.Fprintf(g.stdout, "  cvmlogin diagnose ins-sgdrop01\n\nScenario instances:\n")
	tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
	for _, sc := range sim.Scenarios() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", sc.ID, sc.Name, sc.Description)
	}
	tw.Flush()
}
