package botonom

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// test server is closed by its test (t.Cleanup), and closing it ends the
// client connections to it, so nothing is left to ignore.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
