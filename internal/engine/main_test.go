package engine

import (
	"testing"

	"go.uber.org/goleak"
)

// The engine starts a background loop (reload, idle flush, checkpoints): Shutdown must end it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
