package tgtd

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tcpListenState is the st column of /proc/net/tcp for LISTEN.
const tcpListenState = "0A"

// listenerOwnedBy reports whether process pid holds a TCP socket listening on
// port (any address, IPv4 or IPv6). Unlike a dial, this cannot be fooled by
// another process that took the port first.
func listenerOwnedBy(pid, port int) bool {
	inodes := socketInodes(pid)
	if len(inodes) == 0 {
		return false
	}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, ino := range listeningInodes(string(b), port) {
			if inodes[ino] {
				return true
			}
		}
	}
	return false
}

// socketInodes returns the inodes of the sockets that pid has open.
func socketInodes(pid int) map[string]bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	inodes := make(map[string]bool)
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return inodes
}

// listeningInodes parses /proc/net/tcp or /proc/net/tcp6 text and returns
// the inodes of sockets in LISTEN state on port.
func listeningInodes(table string, port int) []string {
	var out []string
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != tcpListenState {
			continue
		}
		colon := strings.LastIndexByte(f[1], ':')
		if colon < 0 {
			continue
		}
		p, err := strconv.ParseUint(f[1][colon+1:], 16, 16)
		if err != nil || int(p) != port {
			continue
		}
		out = append(out, f[9])
	}
	return out
}
