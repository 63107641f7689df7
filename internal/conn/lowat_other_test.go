//go:build !linux

package conn

import (
	"net"
	"testing"
)

func queued(net.Conn) int { return 0 }

func checkLowat(*testing.T, *Conn) {}
