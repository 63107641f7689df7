package chap

import (
	"crypto/sha256"
	"sync"
)

// issued remembers the last challenges this process sent, on any connection,
// so that a peer that hands one of them back for us to answer (a reflection
// attack across connections, RFC 7143 §9.2.1) is caught. Random challenges
// of 16 bytes and more never collide by chance, so there are no false alarms.
var issued challengeLog

type challengeLog struct {
	mu   sync.Mutex
	ring [256][sha256.Size]byte
	next int
	n    int
}

func (l *challengeLog) add(c []byte) {
	d := sha256.Sum256(c)
	l.mu.Lock()
	l.ring[l.next] = d
	l.next = (l.next + 1) % len(l.ring)
	if l.n < len(l.ring) {
		l.n++
	}
	l.mu.Unlock()
}

func (l *challengeLog) contains(c []byte) bool {
	d := sha256.Sum256(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; i < l.n; i++ {
		if l.ring[i] == d {
			return true
		}
	}
	return false
}
