//go:build !linux

package tgtd

import (
	"errors"
	"os"
	"syscall"
)

// tgtd runs on Linux only; elsewhere the package builds (so that ./...
// builds everywhere) and the children are ordinary processes.

func newSessionAttr() *syscall.SysProcAttr { return nil }

func newGroupAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// Signal numbers for messages only: Pause and Resume need Linux.
const (
	sigStop = syscall.Signal(19)
	sigCont = syscall.Signal(18)
)

func signalGroup(pid int, sig syscall.Signal) error { return errors.ErrUnsupported }
