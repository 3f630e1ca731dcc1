package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cvmlogin/cvmlogin/configs"
)

// healthcheckTimeout bounds one probe; container runtimes give it 5 s.
const healthcheckTimeout = 3 * time.Second

// newHealthcheckCmd probes /healthz of a running bot, for container
// HEALTHCHECKs in images that have no shell or HTTP client of their own.
func newHealthcheckCmd(g *globals) *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 if the bot on this host answers /healthz, 1 otherwise (for container health checks)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				var err error
				if url, err = g.healthURL(); err != nil {
					return err
				}
			}
			if err := probe(cmd.Context(), url); err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			fmt.Fprintf(g.stdout, "ok: %s\n", url)
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "URL to probe (default http://127.0.0.1:<http.listen port>/healthz)")
	return cmd
}

// healthURL is /healthz on loopback at http.listen's port. Only http.listen
// is read: a health check must not fail over unrelated settings.
func (g *globals) healthURL() (string, error) {
	cfg, err := configs.Load(configs.LoadOptions{File: g.configFile, Environ: os.Environ()})
	if err != nil {
		return "", usageError("loading configuration: %w", err)
	}
	_, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		return "", usageError("http.listen %q: %w", cfg.HTTP.Listen, err)
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz", nil
}

// probe GETs url and wants a 200.
func probe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probing %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probing %s: %w", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probing %s: %s", url, resp.Status)
	}
	return nil
}
