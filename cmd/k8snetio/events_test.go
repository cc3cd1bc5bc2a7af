package main

import (
	"bytes"
	"io"
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

// syncBuffer is a bytes.Buffer the command writes to while the test reads it.
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

// TestEventsStdinStreams is what `tail -F FILE | k8snetio events -` relies on: each event prints
// as soon as its line is whole, long before the input ends, and half a line waits for its rest.
func TestEventsStdinStreams(t *testing.T) {
	lines := strings.SplitAfter(readFile(t, filepath.Join(eventsDir, "received.jsonl")), "\n")
	in, w := io.Pipe()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"events", "-"}, in, &stdout, &stderr) }()
	events := func() int { return strings.Count(stdout.String(), "  count=") }
	waitFor := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); events() < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %d events; stdout:\n%s\nstderr:\n%s", n, stdout.String(), stderr.String())
			}
		}
	}

	io.WriteString(w, lines[0])
	waitFor(2)
	half := len(lines[1]) / 2
	io.WriteString(w, lines[1][:half])
	time.Sleep(50 * time.Millisecond)
	if n := events(); n != 2 {
		t.Fatalf("%d events after half a line, want 2", n)
	}
	io.WriteString(w, lines[1][half:])
	waitFor(3)
	if stderr.String() != "" {
		t.Errorf("stderr before the end of the input: %q", stderr.String())
	}

	w.Close()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if got, want := stdout.String(), readFile(t, filepath.Join(eventsDir, "received.txt")); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	if stderr.String() != "k8snetio events: 3 events, 1 other log record skipped\n" {
		t.Errorf("stderr = %q", stderr.String())
	}
}
