package tgtd

import "syscall"

// newSessionAttr puts the child in a session and process group of its own
// (like setsid(1)), killed with SIGKILL when the test binary dies before
// its cleanups run.
func newSessionAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
}

// newGroupAttr puts the child in a process group of its own, killed with
// SIGKILL when the test binary dies.
func newGroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup sends SIGKILL to the process group led by pid.
func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }

// sigStop and sigCont pause and continue a process (Pause, Resume).
const (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
