package baseline

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Reloader holds the current baseline and re-reads the file when it changes.
type Reloader struct {
	path     string
	maxBytes int64
	awaiting bool // the learner's bootstrap: a file without keys is taken while no keys were ever loaded
	cur      atomic.Pointer[Baseline]

	mu      sync.Mutex  // serialises Check; Current never takes it
	lastFI  fs.FileInfo // file state at the last attempt, good or bad; nil when there was none to record
	lastErr string      // why the file could not be stat'ed last time, so a lasting absence is reported once
}

// Option sets up a Reloader.
type Option func(*Reloader)

// MaxBytes refuses a baseline file larger than n bytes (baseline.max_bytes); n <= 0 keeps DefaultMaxBytes.
func MaxBytes(n int64) Option {
	return func(r *Reloader) {
		if n > 0 {
			r.maxBytes = n
		}
	}
}

// NewReloader loads path once; the error is the parse error, so start-up fails with it.
// A file without keys is an error too: nothing would ever flag.
func NewReloader(path string, opts ...Option) (*Reloader, error) {
	return newReloader(path, false, opts)
}

func newReloader(path string, awaiting bool, opts []Option) (*Reloader, error) {
	r := &Reloader{path: path, maxBytes: DefaultMaxBytes, awaiting: awaiting}
	for _, o := range opts {
		o(r)
	}
	b, fi, err := load(path, r.maxBytes)
	if err != nil {
		return nil, err
	}
	if b.Len() == 0 && !awaiting {
		return nil, errNoKeys(path)
	}
	r.lastFI = fi
	r.cur.Store(b)
	return r, nil
}

func errNoKeys(path string) error {
	return &Error{File: path, Msg: "no keys, only a header: with it nothing would ever flag"}
}

// Current returns the baseline to score against; it is never nil and is safe to call during Check.
func (r *Reloader) Current() *Baseline { return r.cur.Load() }

// Check re-reads the file if its modification time, size or inode changed since the last
// attempt; changed reports a swap. On error the last good baseline stays, and an unchanged
// broken file is reported once. A file without keys never replaces one with keys.
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
	b, readFI, err := load(r.path, r.maxBytes)
	switch {
	case errors.Is(err, errUnstable):
		r.lastFI, r.lastErr = nil, "" // still being written: try again next time
		return false, err
	case readFI == nil && err != nil:
		r.lastFI, r.lastErr = fi, "" // could not open or read it (e.g. permissions, not a regular file, too large): report once per state
		return false, err
	case err != nil:
		r.lastFI, r.lastErr = readFI, "" // parse error: remember the broken state, keep the old baseline
		return false, err
	case b.Len() == 0 && (!r.awaiting || r.cur.Load().Len() > 0):
		r.lastFI, r.lastErr = readFI, "" // a header-only file is refused like a broken one
		return false, errNoKeys(r.path)
	}
	r.lastFI, r.lastErr = readFI, ""
	r.cur.Store(b)
	return true, nil
}

// Run calls Check every positive interval until stop is closed, so the file is read outside
// the loop that closes spans. Nothing waits for it: a read hung in the kernel (a hung network
// file system) keeps it behind until the read returns, and it then reports nothing.
func (r *Reloader) Run(stop <-chan struct{}, interval time.Duration, report func(changed bool, err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		changed, err := r.Check()
		select {
		case <-stop:
			return // stopped while reading: the owner is gone or going, tell it nothing
		default:
		}
		if changed || err != nil {
			report(changed, err)
		}
	}
}

// NewReloaderAwaiting is NewReloader for a baseline still being learned: a missing file or
// one without keys is taken as empty, until one with keys was loaded.
func NewReloaderAwaiting(path string, opts ...Option) (*Reloader, error) {
	r, err := newReloader(path, true, opts)
	if !errors.Is(err, fs.ErrNotExist) {
		return r, err
	}
	r = &Reloader{path: path, maxBytes: DefaultMaxBytes, awaiting: true}
	for _, o := range opts {
		o(r)
	}
	if _, statErr := os.Stat(path); statErr != nil {
		r.lastErr = statErr.Error() // Check reports a lasting absence once; here it is expected
	}
	r.cur.Store(&Baseline{file: path})
	return r, nil
}
