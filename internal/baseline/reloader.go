package baseline

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
)

// Reloader holds the current baseline and re-reads the file when it changes.
type Reloader struct {
	path string
	cur  atomic.Pointer[Baseline]

	mu      sync.Mutex  // serialises Check; Current never takes it
	lastFI  fs.FileInfo // file state at the last attempt, good or bad; nil when there was none to record
	lastErr string      // why the file could not be stat'ed last time, so a lasting absence is reported once
}

// NewReloader loads path once; the error is the parse error, so start-up fails with it.
func NewReloader(path string) (*Reloader, error) {
	b, fi, err := load(path)
	if err != nil {
		return nil, err
	}
	r := &Reloader{path: path, lastFI: fi}
	r.cur.Store(b)
	return r, nil
}

// Current returns the baseline to score against; it is never nil and is safe to call during Check.
func (r *Reloader) Current() *Baseline { return r.cur.Load() }

// Check re-reads the file if its modification time, size or inode changed since the last successful or failed attempt.
// changed reports a successful swap. On error the last good baseline stays current and err says why;
// an unchanged broken (or missing) file is reported only once, and any further change is tried again.
func (r *Reloader) Check() (changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	fi, err := os.Stat(r.path)
	if err != nil {
		// Typically the file is missing for a moment between delete and re-create: keep the old baseline.
		if r.lastFI == nil && r.lastErr == err.Error() {
			return false, nil
		}
		r.lastFI, r.lastErr = nil, err.Error()
		return false, err
	}
	if r.lastFI != nil && sameState(r.lastFI, fi) {
		return false, nil
	}

	// Parse the whole file before swapping, so nothing is ever scored against half a file.
	b, readFI, err := load(r.path)
	switch {
	case errors.Is(err, errUnstable):
		r.lastFI, r.lastErr = nil, "" // still being written: try again next time
		return false, err
	case readFI == nil && err != nil:
		r.lastFI, r.lastErr = fi, "" // could not open or read it (e.g. permissions): report once per state
		return false, err
	case err != nil:
		r.lastFI, r.lastErr = readFI, "" // parse error: remember the broken state, keep the old baseline
		return false, err
	}
	r.lastFI, r.lastErr = readFI, ""
	r.cur.Store(b)
	return true, nil
}

// NewReloaderAwaiting is NewReloader for a file that may not exist yet, such as a baseline
// still being learned: until the file appears the baseline is empty, so nothing flags.
func NewReloaderAwaiting(path string) (*Reloader, error) {
	r, err := NewReloader(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return r, err
	}
	r = &Reloader{path: path}
	if _, statErr := os.Stat(path); statErr != nil {
		r.lastErr = statErr.Error() // Check reports a lasting absence once; here it is expected
	}
	r.cur.Store(&Baseline{file: path})
	return r, nil
}
