package baseline

import (
	"testing"

	"go.uber.org/goleak"
)

// Reloader.Run is meant to run in its own goroutine; no test may leave one behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
