package baseline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is a fixed modification time, so tests control exactly which part of the file state changes.
var t0 = time.Date(2024, 1, 7, 2, 0, 0, 0, time.UTC)

// writeAt writes content to path in place (same inode) and sets its modification time to mtime.
func writeAt(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := writeFileAt(path, content, mtime); err != nil {
		t.Fatal(err)
	}
}

func writeFileAt(path, content string, mtime time.Time) error {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Chtimes(path, mtime, mtime)
}

// replaceAt writes content to a temporary file and renames it over path, the usual atomic replacement.
func replaceAt(t testing.TB, path, content string, mtime time.Time) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func webFile(avg string) string { return ratioHeader + "prod:web," + avg + ",0.05\n" }

func webAvg(t *testing.T, b *Baseline) float64 {
	t.Helper()
	st, ok := b.Lookup("prod:web")
	if !ok {
		t.Fatal("prod:web missing from the current baseline")
	}
	return st[InboundOutbound].Avg
}

func newTestReloader(t *testing.T, content string) (*Reloader, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "baseline.csv")
	writeAt(t, path, content, t0)
	r, err := NewReloader(path)
	if err != nil {
		t.Fatalf("NewReloader: %v", err)
	}
	return r, path
}

func checkResult(t *testing.T, r *Reloader, wantChanged bool) {
	t.Helper()
	changed, err := r.Check()
	if err != nil || changed != wantChanged {
		t.Fatalf("Check() = %v, %v; want %v, nil", changed, err, wantChanged)
	}
}

func TestReloaderDetectsChange(t *testing.T) {
	// Each case changes exactly one part of the file state, so each part is shown to be needed.
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
	}{
		{"in place, new mtime, same size", func(t *testing.T, path string) { writeAt(t, path, webFile("0.7"), t0.Add(time.Second)) }},
		{"in place, same mtime, new size", func(t *testing.T, path string) { writeAt(t, path, webFile("0.75"), t0) }},
		{"rename, same mtime and size, new inode", func(t *testing.T, path string) { replaceAt(t, path, webFile("0.7"), t0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, path := newTestReloader(t, webFile("0.5"))
			old := r.Current()
			checkResult(t, r, false)
			tt.change(t, path)
			checkResult(t, r, true)
			if r.Current() == old {
				t.Fatal("Current() did not change after a successful reload")
			}
			if got := webAvg(t, r.Current()); got != 0.7 && got != 0.75 {
				t.Errorf("avg after reload = %v, want the new value", got)
			}
			if got := webAvg(t, old); got != 0.5 {
				t.Errorf("the old baseline changed under its readers: avg %v, want 0.5", got)
			}
			checkResult(t, r, false)
		})
	}
}

func TestReloaderUnchangedStateIsNotReread(t *testing.T) {
	r, path := newTestReloader(t, webFile("0.5"))
	// Same size and mtime on the same inode is "unchanged": Check must not even read the (now broken) content.
	writeAt(t, path, webFile("abc"), t0)
	checkResult(t, r, false)
	if got := webAvg(t, r.Current()); got != 0.5 {
		t.Errorf("avg = %v, want 0.5", got)
	}
}

func TestReloaderKeepsLastGoodBaseline(t *testing.T) {
	r, path := newTestReloader(t, webFile("0.5"))
	good := r.Current()

	replaceAt(t, path, webFile("abc"), t0.Add(time.Second))
	changed, err := r.Check()
	var e *Error
	if changed || !errors.As(err, &e) || e.File != path || e.Line != 2 || e.Column != 2 || !strings.Contains(e.Msg, "is not a number") {
		t.Fatalf("Check() on a broken file = %v, %v; want false and %s:2:2 not a number", changed, err, path)
	}
	if r.Current() != good {
		t.Fatal("a broken file replaced the current baseline")
	}
	// The same broken state is reported once, not on every check.
	for range 3 {
		checkResult(t, r, false)
	}
	if r.Current() != good {
		t.Fatal("the current baseline changed while the file stayed broken")
	}

	// A further change that is still broken is tried and reported again.
	writeAt(t, path, ratioHeader+"prod:web,0.5,-1\n", t0.Add(2*time.Second))
	if changed, err := r.Check(); changed || err == nil || !strings.Contains(err.Error(), ":2:3: ") {
		t.Fatalf("Check() on a second broken file = %v, %v; want false and an error at 2:3", changed, err)
	}

	replaceAt(t, path, webFile("0.9"), t0.Add(3*time.Second))
	checkResult(t, r, true)
	if got := webAvg(t, r.Current()); got != 0.9 {
		t.Errorf("avg after the fix = %v, want 0.9", got)
	}
}

func TestReloaderMissingFile(t *testing.T) {
	r, path := newTestReloader(t, webFile("0.5"))
	good := r.Current()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Check(); changed || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Check() on a missing file = %v, %v; want false, ErrNotExist", changed, err)
	}
	checkResult(t, r, false) // still missing: not reported again
	if r.Current() != good {
		t.Fatal("a missing file replaced the current baseline")
	}
	// Re-created with the very same state as before it vanished: it must still be read again.
	writeAt(t, path, webFile("0.6"), t0)
	checkResult(t, r, true)
	if got := webAvg(t, r.Current()); got != 0.6 {
		t.Errorf("avg = %v, want 0.6", got)
	}
}

func TestNewReloaderErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewReloader(filepath.Join(dir, "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewReloader(missing) = %v, want ErrNotExist", err)
	}
	path := filepath.Join(dir, "baseline.csv")
	writeAt(t, path, "key,avg_inbound:outbound\nprod:web,0.5\n", t0)
	r, err := NewReloader(path)
	want := path + ":1: no scorable signal"
	if r != nil || err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("NewReloader(no signal) = %v, %v; want nil and %q...", r, err, want)
	}
}

func TestReloaderConcurrentReaders(t *testing.T) {
	// Version v has v%7+1 keys, all with avg v: a reader seeing mixed values or a wrong count saw half a file.
	content := func(v int) string {
		var sb strings.Builder
		sb.WriteString(ratioHeader)
		for k := range v%7 + 1 {
			fmt.Fprintf(&sb, "c:k%d,%d,1\n", k, v)
		}
		return sb.String()
	}
	keys := make([]string, 7)
	for k := range keys {
		keys[k] = fmt.Sprintf("c:k%d", k)
	}
	path := filepath.Join(t.TempDir(), "baseline.csv")
	writeAt(t, path, content(0), t0)
	r, err := NewReloader(path)
	if err != nil {
		t.Fatal(err)
	}

	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				b := r.Current()
				st, ok := b.Lookup(keys[0])
				if !ok {
					errc <- errors.New("c:k0 missing")
					return
				}
				v := st[InboundOutbound].Avg
				if want := int(v)%7 + 1; b.Len() != want {
					errc <- fmt.Errorf("version %v has %d keys, want %d", v, b.Len(), want)
					return
				}
				for _, k := range keys[:b.Len()] {
					if st, ok := b.Lookup(k); !ok || st[InboundOutbound].Avg != v {
						errc <- fmt.Errorf("version %v: key %s inconsistent", v, k)
						return
					}
				}
				reads.Add(1)
			}
		})
	}
	const versions = 200
	for v := 1; v <= versions; v++ {
		replaceAt(t, path, content(v), t0.Add(time.Duration(v)*time.Second))
		if changed, err := r.Check(); !changed || err != nil {
			t.Errorf("Check() for version %d = %v, %v", v, changed, err)
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if got := webAvgOf(r.Current(), keys[0]); got != versions {
		t.Errorf("final version %v, want %d", got, versions)
	}
	if reads.Load() == 0 {
		t.Error("readers never ran")
	}
}

func webAvgOf(b *Baseline, key string) float64 {
	st, _ := b.Lookup(key)
	if st == nil {
		return -1
	}
	return st[InboundOutbound].Avg
}

func TestConcurrentChecks(t *testing.T) {
	// Check may be called from more than one goroutine; exactly one of them swaps in a given change.
	r, path := newTestReloader(t, webFile("0.5"))
	replaceAt(t, path, webFile("0.7"), t0.Add(time.Second))
	var swaps atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			changed, err := r.Check()
			if err != nil {
				t.Error(err)
			}
			if changed {
				swaps.Add(1)
			}
		})
	}
	wg.Wait()
	if swaps.Load() != 1 {
		t.Errorf("%d goroutines swapped in one change, want 1", swaps.Load())
	}
}

func TestFileChangedWhileRead(t *testing.T) {
	// A writer busy while we read: what was read may be a truncated or mixed file that still parses.
	tests := []struct {
		name     string
		write    func(path string, n int) error
		finalLen int
	}{
		{"appended", func(path string, n int) error {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = fmt.Fprintf(f, "c:k%d,1,1\n", n)
			return err
		}, 7},
		{"rewritten, same size", func(path string, n int) error {
			return writeFileAt(path, webFile(fmt.Sprintf("0.%d", n)), t0.Add(time.Duration(n)*time.Second))
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, path := newTestReloader(t, webFile("0.5"))
			writes := 0
			testHookAfterRead = func(p string) {
				writes++
				if err := tt.write(p, writes); err != nil {
					t.Error(err)
				}
			}
			t.Cleanup(func() { testHookAfterRead = nil })

			if _, err := loadFile(path); !errors.Is(err, errUnstable) || writes != 3 {
				t.Errorf("Load of a file that keeps changing = %v after %d reads, want errUnstable after 3", err, writes)
			}
			changed, err := r.Check()
			if changed || !errors.Is(err, errUnstable) || !strings.HasPrefix(err.Error(), path+": ") {
				t.Fatalf("Check() = %v, %v; want false and %s: file changed while being read", changed, err, path)
			}
			if got := webAvg(t, r.Current()); got != 0.5 || r.Current().Len() != 1 {
				t.Fatal("a file read while it changed was swapped in")
			}
			// Once the writer is done the file is read again, even though its state has not changed since.
			testHookAfterRead = nil
			checkResult(t, r, true)
			if got := r.Current().Len(); got != tt.finalLen {
				t.Errorf("Len() = %d, want %d", got, tt.finalLen)
			}
		})
	}
}

func TestNewReloaderAwaitingPicksUpTheFileWhenItAppears(t *testing.T) {
	path := filepath.Join(t.TempDir(), "learned.csv")
	r, err := NewReloaderAwaiting(path)
	if err != nil {
		t.Fatalf("NewReloaderAwaiting on a missing file: %v", err)
	}
	if got := r.Current().Len(); got != 0 {
		t.Fatalf("empty baseline expected while the file is missing, got %d keys", got)
	}
	if _, ok := r.Current().Lookup("c:web"); ok {
		t.Fatal("a missing file must not score anything")
	}
	if changed, err := r.Check(); changed || err != nil {
		t.Fatalf("still missing: want no change and no repeated error, got %v %v", changed, err)
	}
	if err := os.WriteFile(path, []byte("key,avg_inbound:outbound,stdev_inbound:outbound\nc:web,1,0.5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Check(); !changed || err != nil {
		t.Fatalf("file appeared: want a swap, got %v %v", changed, err)
	}
	if _, ok := r.Current().Lookup("c:web"); !ok {
		t.Fatal("the new file's key is not looked up")
	}
}

func TestNewReloaderAwaitingStillRejectsABrokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "learned.csv")
	if err := os.WriteFile(path, []byte("nokey\n1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewReloaderAwaiting(path); err == nil || !strings.Contains(err.Error(), "learned.csv:1") {
		t.Fatalf("want the file:line error, got %v", err)
	}
}

const headerOnly = "key,avg_inbound:outbound,stdev_inbound:outbound,count,last_seen\n"

func TestNewReloaderRefusesHeaderOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baseline.csv")
	writeAt(t, path, headerOnly, t0)
	r, err := NewReloader(path)
	if r != nil || err == nil || err.Error() != path+": no keys, only a header: with it nothing would ever flag" {
		t.Errorf("NewReloader(header only) = %v, %v; want a no-keys error naming the file", r, err)
	}
}

// TestReloadToHeaderOnlyKeepsBaseline: a header-only file is a failed reload, not an empty baseline.
func TestReloadToHeaderOnlyKeepsBaseline(t *testing.T) {
	r, path := newTestReloader(t, webFile("0.5"))
	good := r.Current()
	replaceAt(t, path, headerOnly, t0.Add(time.Second))
	changed, err := r.Check()
	var e *Error
	if changed || !errors.As(err, &e) || e.File != path || !strings.Contains(e.Msg, "no keys") {
		t.Fatalf("Check() on a header-only file = %v, %v; want false and a no-keys error", changed, err)
	}
	if r.Current() != good {
		t.Fatal("a header-only file replaced the baseline")
	}
	checkResult(t, r, false) // reported once
}

// TestAwaitingTakesHeaderOnlyUntilKeys: the learner's bootstrap may have no keys at start and
// on reloads while nothing was learned, but never replaces a baseline that has keys.
func TestAwaitingTakesHeaderOnlyUntilKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "learned.csv")
	writeAt(t, path, headerOnly, t0)
	r, err := NewReloaderAwaiting(path)
	if err != nil || r.Current().Len() != 0 {
		t.Fatalf("NewReloaderAwaiting(header only) = %v; want an empty baseline", err)
	}
	replaceAt(t, path, headerOnly+"\n", t0.Add(time.Second))
	checkResult(t, r, true)
	replaceAt(t, path, webFile("0.5"), t0.Add(2*time.Second))
	checkResult(t, r, true)
	good := r.Current()
	replaceAt(t, path, headerOnly, t0.Add(3*time.Second))
	if changed, err := r.Check(); changed || err == nil || !strings.Contains(err.Error(), "no keys") {
		t.Fatalf("Check() = %v, %v; want the learned baseline kept and a no-keys error", changed, err)
	}
	if r.Current() != good {
		t.Fatal("a header-only file replaced the learned baseline")
	}
}

func TestNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadFile(dir); err == nil || err.Error() != dir+": not a regular file (directory)" {
		t.Errorf("Load(directory) = %v", err)
	}
	// A symlink to a regular file is fine: that is how ConfigMaps are mounted.
	target := filepath.Join(dir, "real.csv")
	writeAt(t, target, webFile("0.5"), t0)
	link := filepath.Join(dir, "baseline.csv")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if b, err := loadFile(link); err != nil || b.Len() != 1 {
		t.Errorf("Load(symlink to a file) = %v", err)
	}
}

func TestSizeCap(t *testing.T) {
	// A sparse file: its size is what counts, it is never read.
	path := filepath.Join(t.TempDir(), "baseline.csv")
	writeAt(t, path, webFile("0.5"), t0)
	r, err := NewReloader(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 300_000_000); err != nil {
		t.Fatal(err)
	}
	changed, err := r.Check()
	want := path + ": is 286.1 MiB (300000000 bytes), more than baseline.max_bytes (256 MiB)"
	if changed || err == nil || err.Error() != want {
		t.Fatalf("Check() = %v, %v; want %s", changed, err, want)
	}
	if webAvg(t, r.Current()) != 0.5 {
		t.Error("the baseline changed")
	}

	small := webFile("0.5")
	writeAt(t, path, small, t0)
	if _, err := NewReloader(path, MaxBytes(int64(len(small)))); err != nil {
		t.Errorf("a file of exactly max_bytes: %v", err)
	}
	_, err = NewReloader(path, MaxBytes(int64(len(small)-1)))
	want = fmt.Sprintf("%s: is %d bytes, more than baseline.max_bytes (%d bytes)", path, len(small), len(small)-1)
	if err == nil || err.Error() != want {
		t.Errorf("NewReloader with a smaller max_bytes = %v, want %s", err, want)
	}
}

// TestSizeCapWhileGrowing: a file that grows between its Stat and the read is still cut at max_bytes+1.
func TestSizeCapWhileGrowing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baseline.csv")
	small := webFile("0.5")
	writeAt(t, path, small, t0)
	testHookBeforeRead = func(p string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if _, err := f.WriteString(strings.Repeat("c:k,1,1\n", 1000)); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { testHookBeforeRead = nil })
	_, err := NewReloader(path, MaxBytes(int64(len(small))+10))
	if err == nil || !strings.HasSuffix(err.Error(), fmt.Sprintf(": grew past baseline.max_bytes (%d bytes) while being read", len(small)+10)) {
		t.Errorf("NewReloader on a growing file = %v", err)
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1000: "1000 bytes", 256 << 20: "256 MiB", 300_000_000: "286.1 MiB (300000000 bytes)"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestRun: Run reloads on its own and reports swaps and failures, and returns when stopped.
func TestRun(t *testing.T) {
	r, path := newTestReloader(t, webFile("0.5"))
	type result struct {
		changed bool
		err     error
	}
	results := make(chan result, 10)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		r.Run(stop, time.Millisecond, func(changed bool, err error) { results <- result{changed, err} })
	}()
	replaceAt(t, path, webFile("0.7"), t0.Add(time.Second))
	if got := <-results; !got.changed || got.err != nil || webAvg(t, r.Current()) != 0.7 {
		t.Errorf("first report %+v, want a swap to 0.7", got)
	}
	replaceAt(t, path, webFile("abc"), t0.Add(2*time.Second))
	if got := <-results; got.changed || got.err == nil {
		t.Errorf("second report %+v, want an error", got)
	}
	close(stop)
	<-done
	select {
	case got := <-results:
		t.Errorf("report %+v without a change", got)
	default:
	}
}

// TestRunStoppedDuringRead: the owner stops Run while it reads; Run does not hold up the owner
// and, once the read returns, reports nothing.
func TestRunStoppedDuringRead(t *testing.T) {
	r, path := newTestReloader(t, webFile("0.5"))
	reading, release := make(chan struct{}), make(chan struct{})
	testHookAfterRead = func(string) {
		close(reading)
		<-release
	}
	stop, done := make(chan struct{}), make(chan struct{})
	reported := make(chan struct{}, 1)
	go func() {
		defer close(done)
		r.Run(stop, time.Millisecond, func(bool, error) { reported <- struct{}{} })
	}()
	replaceAt(t, path, webFile("0.7"), t0.Add(time.Second))
	<-reading
	close(stop) // returns at once although Run is inside a read
	close(release)
	<-done
	testHookAfterRead = nil
	if len(reported) != 0 {
		t.Error("Run reported after it was stopped")
	}
}
