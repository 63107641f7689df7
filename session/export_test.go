package session

import "time"

// WithEnv sets cfg to read LIBISCSI_CHAP_* from env instead of the
// process environment, and returns it.
func WithEnv(cfg *Config, env map[string]string) *Config {
	cfg.lookupEnv = func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	return cfg
}

// Read role states, for tests of readrole.go.
const (
	RoleLoop   = rdLoop
	RoleFree   = rdFree
	RoleCaller = rdCaller
)

// ReadRole returns who holds the read role now.
func ReadRole(s *Session) uint32 { return s.rd.state.Load() }

// SetLinger sets how long a parked reader goroutine leaves the read role
// free, and returns a function that restores it.
func SetLinger(d time.Duration) (restore func()) {
	old := linger
	linger = d
	return func() { linger = old }
}

// DefaultDialer is the Dialer a Config without one gets.
func DefaultDialer() Dialer { return (&Config{}).withDefaults().Dialer }
