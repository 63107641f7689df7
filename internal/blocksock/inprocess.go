package blocksock

import (
	"net"
	"sync"
)

// inProcess counts, per listening address, the servers of this process
// that MarkInProcess registered there.
var inProcess struct {
	mu    sync.Mutex
	addrs map[string]int
}

// MarkInProcess records that a target of this process (package
// iscsitest's servers) listens on addr, until the returned function is
// called. Its goroutines need the Ps that a reader blocked in read(2)
// would hold, so a session dialing it uses Go's netpoller (InProcess).
func MarkInProcess(addr string) (unmark func()) {
	key := canonical(addr)
	inProcess.mu.Lock()
	defer inProcess.mu.Unlock()
	if inProcess.addrs == nil {
		inProcess.addrs = make(map[string]int)
	}
	inProcess.addrs[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			inProcess.mu.Lock()
			defer inProcess.mu.Unlock()
			if inProcess.addrs[key]--; inProcess.addrs[key] <= 0 {
				delete(inProcess.addrs, key)
			}
		})
	}
}

// InProcess reports whether MarkInProcess registered addr.
func InProcess(addr string) bool {
	key := canonical(addr)
	inProcess.mu.Lock()
	defer inProcess.mu.Unlock()
	return inProcess.addrs[key] > 0
}

// canonical spells a host:port address one way ("[::1]:3260" and
// "[0:0::1]:3260" alike); an address it cannot parse stays as it is.
func canonical(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	return net.JoinHostPort(host, port)
}
