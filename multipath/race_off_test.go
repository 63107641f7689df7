//go:build !race

package multipath_test

const raceEnabled = false
