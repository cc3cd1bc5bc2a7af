//go:build unix

package baseline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// within fails the test if f has not returned after a few seconds: before the fix, opening a FIFO
// blocked until a writer came, which in a test is forever.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}

func TestFIFOIsRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "baseline.csv")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	var err error
	within(t, "NewReloader on a FIFO", func() { _, err = NewReloader(fifo) })
	if err == nil || err.Error() != fifo+": not a regular file (named pipe)" {
		t.Errorf("NewReloader(FIFO) = %v", err)
	}

	// A FIFO renamed over the path of a loaded baseline: a failed reload, the baseline stays.
	path := filepath.Join(dir, "good.csv")
	writeAt(t, path, webFile("0.5"), t0)
	r, err := NewReloader(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fifo, path); err != nil {
		t.Fatal(err)
	}
	var changed bool
	within(t, "Check on a FIFO", func() { changed, err = r.Check() })
	if changed || err == nil || !strings.HasSuffix(err.Error(), "not a regular file (named pipe)") || webAvg(t, r.Current()) != 0.5 {
		t.Errorf("Check() on a FIFO = %v, %v; want the baseline kept and a named-pipe error", changed, err)
	}
}

// TestFIFOSwappedInAfterStat: the path turns into a FIFO between the Stat and the open; the open
// must not block and the FIFO is refused.
func TestFIFOSwappedInAfterStat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "baseline.csv")
	writeAt(t, path, webFile("0.5"), t0)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	testHookBeforeOpen = func(p string) {
		if err := os.Rename(fifo, p); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { testHookBeforeOpen = nil })
	var err error
	within(t, "reading a FIFO swapped in after the Stat", func() { _, err = loadFile(path) })
	if err == nil || !strings.HasSuffix(err.Error(), "not a regular file (named pipe)") {
		t.Errorf("got %v, want a named-pipe error", err)
	}
}

func TestDeviceIsRefused(t *testing.T) {
	link := filepath.Join(t.TempDir(), "baseline.csv")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	var err error
	within(t, "Load of a symlink to /dev/zero", func() { _, err = loadFile(link) })
	var e *Error
	if !errors.As(err, &e) || err.Error() != link+": not a regular file (character device)" {
		t.Errorf("Load(symlink to /dev/zero) = %v", err)
	}
}
