// Command cvmlogin diagnoses "I can't log in to my Tencent Cloud CVM
// instance", from a terminal or as a Slack bot.
//
// It is the only package that wires configuration, the Tencent Cloud adapter,
// the simulator, Redis and Slack together.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
