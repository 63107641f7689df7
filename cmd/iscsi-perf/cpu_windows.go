package main

import (
	"syscall"
	"time"
)

// cpuTimes returns this process's user and system (kernel) CPU time.
func cpuTimes() (user, sys time.Duration) {
	h, err := syscall.GetCurrentProcess()
	if err != nil {
		return 0, 0
	}
	var creation, exit, kernel, usr syscall.Filetime
	if err := syscall.GetProcessTimes(h, &creation, &exit, &kernel, &usr); err != nil {
		return 0, 0
	}
	return filetimeDuration(usr), filetimeDuration(kernel)
}

// filetimeDuration reads a FILETIME that holds a duration, in units of
// 100 ns (Filetime.Nanoseconds reads an instant since 1601).
func filetimeDuration(f syscall.Filetime) time.Duration {
	return time.Duration(uint64(f.HighDateTime)<<32|uint64(f.LowDateTime)) * 100
}
