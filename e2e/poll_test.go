package e2e

import (
	"errors"
	"testing"
	"time"
)

// pollInterval is short against the 1 s scrape interval, long enough not to load the machine.
const pollInterval = 250 * time.Millisecond

// errGiveUp wrapped into a condition's error ends the polling at once (e.g. the collector exited).
var errGiveUp = errors.New("giving up")

// eventually calls cond until it returns nil and fails the test with cond's last error when the
// timeout passes first. The error says what is still missing, so a timeout explains itself.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// poll is eventually without the test: nil once cond held, else cond's last error.
func poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if errors.Is(err, errGiveUp) {
			return err
		}
		if time.Now().After(deadline) {
			return errors.Join(errors.New("timed out after "+timeout.String()), err)
		}
		time.Sleep(pollInterval)
	}
}
