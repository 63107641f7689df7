//go:build !race

package blockstream

const raceEnabled = false
