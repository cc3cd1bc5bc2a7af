package enginehost

import (
	"testing"

	"go.uber.org/goleak"
)

// The host starts goroutines (the engine's loop, the event queue's); none may outlive a shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
