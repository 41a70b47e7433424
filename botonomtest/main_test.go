package botonomtest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// server is closed by its test, and closing it ends the client connections
// to it, so nothing is left to ignore.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
