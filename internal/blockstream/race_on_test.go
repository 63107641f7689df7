//go:build race

package blockstream

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// it is given, so allocation counts are not those of a real build.
const raceEnabled = true
