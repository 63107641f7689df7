//go:build race

package multipath_test

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// it is given and everything runs slower, so allocation counts are not
// those of a real build.
const raceEnabled = true
