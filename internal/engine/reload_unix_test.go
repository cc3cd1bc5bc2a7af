//go:build unix

package engine

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFIFOOverBaselinePath: a FIFO renamed over baseline.path used to block the engine's loop
// (no idle flush, Shutdown hung). Now it is a failed reload, and Shutdown returns at once.
func TestFIFOOverBaselinePath(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Baseline.ReloadInterval = 5 * time.Millisecond })
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	h.e.Start()
	if err := os.Rename(fifo, h.path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload to be counted", func() bool { return h.counter("baseline_reload_failures", "") == 1 })
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.e.Shutdown(context.Background())
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown blocked")
	}
	if n := h.e.Baseline().Len(); n != 3 {
		t.Errorf("baseline has %d keys, want the last good one's 3", n)
	}
}
