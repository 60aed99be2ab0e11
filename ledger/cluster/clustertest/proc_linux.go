package clustertest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd when the test process dies, even
// by SIGKILL, so a killed test run leaves no S3 server behind. (PostgreSQL
// runs as another user, which clears this setting; see sweepOrphans.)
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
