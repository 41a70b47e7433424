//go:build !race

package botonom

// raceEnabled: the race detector is on (see race_on_test.go).
const raceEnabled = false
