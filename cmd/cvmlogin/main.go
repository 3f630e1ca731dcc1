// Command cvmlogin diagnoses "I can't log in to my Tencent Cloud CVM
// instance", from a terminal or as a Slack bot.
//
// It is the only package that wires configuration, the Tencent Cloud adapter,
// the simulator, Redis and Slack together.
package main

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// metadataTimeout bounds http.DefaultClient: the Tencent SDK's CVM-role
// credential lookup calls http.Get on the instance metadata service with no
// timeout, which would hang startup off a CVM whose resolver never answers.
const metadataTimeout = 10 * time.Second

func main() {
	http.DefaultClient.Timeout = metadataTimeout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
