package session

// WithEnv sets cfg to read LIBISCSI_CHAP_* from env instead of the
// process environment, and returns it.
func WithEnv(cfg *Config, env map[string]string) *Config {
	cfg.lookupEnv = func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	return cfg
}
