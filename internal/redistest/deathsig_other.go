//go:build !linux

package redistest

import "os/exec"

// dieWithParent does nothing on this system: the shared server outlives the
// test binary. Set CVMLOGIN_TEST_REDIS_ADDR to use a server you manage.
func dieWithParent(*exec.Cmd) {}
