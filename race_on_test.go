//go:build race

package botonom

// raceEnabled: the race detector is on (sync.Pool then drops some of what
// it is given, so a count of allocations is not what a build without it
// makes).
const raceEnabled = true
