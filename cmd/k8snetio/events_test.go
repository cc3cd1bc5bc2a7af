package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testdata/events/received.jsonl: line 1 is what the demo's splunk_hec receiver wrote to its file
// exporter (two events, HEC metadata as resource attributes, numbers as doubles after the JSON trip);
// line 2 holds a container log record (not an event) and an event as the component itself writes
// it (metadata as record attributes, ints). received.txt is the expected output, checked by hand.
const eventsDir = "testdata/events"

func TestEventsPrintsReceivedFile(t *testing.T) {
	r := runArgs(t, "", "events", filepath.Join(eventsDir, "received.jsonl"))
	want := readFile(t, filepath.Join(eventsDir, "received.txt"))
	if r.code != exitOK || r.stdout != want {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", r.code, r.stdout, want, r.stderr)
	}
	if r.stderr != "k8snetio events: 3 events, 1 other log record skipped\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestEventsStdin(t *testing.T) {
	r := runArgs(t, readFile(t, filepath.Join(eventsDir, "received.jsonl")), "events", "-")
	if r.code != exitOK || r.stdout != readFile(t, filepath.Join(eventsDir, "received.txt")) {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestEventsBadLines(t *testing.T) {
	lines := strings.SplitAfter(readFile(t, filepath.Join(eventsDir, "received.jsonl")), "\n")
	metrics := readFile(t, filepath.Join(replayDir, "metrics.jsonl"))
	in := `{"resourceLogs": [` + "\n" + // 1: truncated
		lines[0] + // 2
		"\n" + // 3: blank lines are skipped
		metrics[:strings.IndexByte(metrics, '\n')+1] + // 4: a metrics recording
		lines[1] // 5
	path := writeFile(t, t.TempDir(), "bad.jsonl", in)
	r := runArgs(t, "", "events", path)
	if r.code != exitFailure {
		t.Errorf("exit %d, want %d", r.code, exitFailure)
	}
	// The good lines still print: this is a viewer, not a back-test.
	if r.stdout != readFile(t, filepath.Join(eventsDir, "received.txt")) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	for _, want := range []string{
		path + ":1: not valid JSON",
		path + ":4: not OTLP logs JSON: no resourceLogs, but resourceMetrics (a recording of another signal?)",
		"3 events, 1 other log record skipped, 2 bad lines",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestEventsUsage(t *testing.T) {
	r := runArgs(t, "", "events", "-h")
	if r.code != exitOK || r.stdout != eventsUsage {
		t.Errorf("-h: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	if r := runArgs(t, "", "help"); !strings.Contains(r.stdout, "events") {
		t.Errorf("the usage does not list events:\n%s", r.stdout)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "want exactly one FILE"},
		{[]string{"a", "b"}, "want exactly one FILE"},
		{[]string{"--until", "1s", "f"}, "--until and --poll need --follow"},
		{[]string{"--follow", "-"}, "--follow needs a file"},
		{[]string{"--follow", "--poll", "0s", "f"}, "--poll must be positive"},
		{[]string{"--follow", "--until", "-1s", "f"}, "--until must not be negative"},
		{[]string{"--bogus", "f"}, "flag provided but not defined"},
	} {
		r := runArgs(t, "", append([]string{"events"}, tt.args...)...)
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", tt.args, r.code, r.stdout, r.stderr)
		}
	}
	if r := runArgs(t, "", "events", filepath.Join(t.TempDir(), "missing.jsonl")); r.code != exitFailure || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("missing file: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// syncBuffer is a bytes.Buffer the follower writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// follower runs printEvents with --follow on path until stopped.
type follower struct {
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
	done           chan int
}

func startFollower(t *testing.T, path string) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{cancel: cancel, done: make(chan int, 1)}
	go func() {
		f.done <- printEvents(ctx, eventsOptions{path: path, follow: true, poll: 10 * time.Millisecond}, nil, &f.stdout, &f.stderr)
	}()
	t.Cleanup(func() { f.stop(t) })
	return f
}

// waitFor waits until the follower has printed n events.
func (f *follower) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(f.stdout.String(), "  count=") < n {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %d events; stdout:\n%s\nstderr:\n%s", n, f.stdout.String(), f.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *follower) stop(t *testing.T) int {
	t.Helper()
	f.cancel()
	select {
	case code := <-f.done:
		f.done <- code // for the cleanup's second stop
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("the follower did not stop")
		return -1
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEventsFollow(t *testing.T) {
	lines := strings.SplitAfter(readFile(t, filepath.Join(eventsDir, "received.jsonl")), "\n")
	path := filepath.Join(t.TempDir(), "events.jsonl")
	f := startFollower(t, path) // the file does not exist yet: the follower waits for it

	time.Sleep(30 * time.Millisecond)
	appendTo(t, path, lines[0])
	f.waitFor(t, 2)

	// A line written in two pieces is read once it is whole.
	half := len(lines[1]) / 2
	appendTo(t, path, lines[1][:half])
	time.Sleep(50 * time.Millisecond)
	if n := strings.Count(f.stdout.String(), "  count="); n != 2 {
		t.Fatalf("%d events after half a line, want 2; stderr:\n%s", n, f.stderr.String())
	}
	appendTo(t, path, lines[1][half:])
	f.waitFor(t, 3)

	if code := f.stop(t); code != exitOK {
		t.Errorf("exit %d; stderr:\n%s", code, f.stderr.String())
	}
	if got, want := f.stdout.String(), readFile(t, filepath.Join(eventsDir, "received.txt")); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(f.stderr.String(), "3 events, 1 other log record skipped") {
		t.Errorf("stderr:\n%s", f.stderr.String())
	}
}

func TestEventsFollowTruncated(t *testing.T) {
	lines := strings.SplitAfter(readFile(t, filepath.Join(eventsDir, "received.jsonl")), "\n")
	path := writeFile(t, t.TempDir(), "events.jsonl", lines[0]+lines[1])
	f := startFollower(t, path)
	f.waitFor(t, 3)

	// A new collector run starts the file over: the follower reads it from the start.
	if err := os.WriteFile(path, []byte(lines[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, 4)
	f.stop(t)
	if !strings.Contains(f.stderr.String(), "truncated or replaced") {
		t.Errorf("stderr:\n%s", f.stderr.String())
	}
}

func TestEventsFollowUntil(t *testing.T) {
	path := writeFile(t, t.TempDir(), "events.jsonl", readFile(t, filepath.Join(eventsDir, "received.jsonl")))
	start := time.Now()
	r := runArgs(t, "", "events", "--follow", "--poll", "10ms", "--until", "200ms", path)
	if r.code != exitOK || r.stdout != readFile(t, filepath.Join(eventsDir, "received.txt")) {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("--until 200ms ran for %s", d)
	}
}
