package session

import (
	"crypto/rand"
	"encoding/binary"
	"os"
	"strings"
	"sync/atomic"

	"github.com/iscsi-go/iscsi/pdu"
)

// NamingAuthority is the IQN prefix of default initiator names.
const NamingAuthority = "iqn.2026-11.com.github.iscsi-go"

// DefaultInitiatorName returns NamingAuthority:<host name>, the host name
// reduced to the characters an iSCSI name allows.
func DefaultInitiatorName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := NamingAuthority + ":" + b.String()
	if len(name) > 223 {
		name = name[:223]
	}
	return name
}

// isidRandom is this process's random 24-bit ISID part; isidCounter makes
// every Session's ISID distinct within the process.
var (
	isidRandom  [3]byte
	isidCounter atomic.Uint32
)

func init() {
	_, _ = rand.Read(isidRandom[:])
	var q [2]byte
	_, _ = rand.Read(q[:])
	isidCounter.Store(uint32(binary.BigEndian.Uint16(q[:])))
}

// NewISID returns a random-qualified ISID (type T=10b, RFC 7143 §11.12.5):
// 24 random bits per process and a 16-bit qualifier that differs for every
// call, so two sessions of one program never share an ISID.
func NewISID() pdu.ISID {
	q := uint16(isidCounter.Add(1))
	return pdu.ISID{0x80, isidRandom[0], isidRandom[1], isidRandom[2], byte(q >> 8), byte(q)}
}
