package e2e

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// gcTrace sums the lines that GODEBUG=gctrace=1 makes a Go program print, one per collection:
// "gc 12 @3.1s 2%: 0.01+1.2+0.003 ms clock, 0.03+0.5/1.1/0.9+0.006 ms cpu, 4->5->2 MB, ...".
type gcTrace struct {
	cycles int
	// cpu is all the collections' CPU: stop-the-world phases, assists, background and idle marking.
	cpu time.Duration
	// liveMB is the mean heap left live after marking (the third MB figure), in whole MB as printed.
	liveMB float64
}

var gcTraceLine = regexp.MustCompile(`(?m)^gc \d+ @[0-9.]+s \d+%: \S+ ms clock, ([0-9.]+)\+([0-9.]+)/([0-9.]+)/([0-9.]+)\+([0-9.]+) ms cpu, \d+->\d+->(\d+) MB`)

// parseGCTrace reads the gctrace lines in out; other lines are ignored.
func parseGCTrace(out string) gcTrace {
	var tr gcTrace
	var live float64
	for _, m := range gcTraceLine.FindAllStringSubmatch(out, -1) {
		var ms float64
		for _, f := range m[1:6] {
			v, _ := strconv.ParseFloat(f, 64) // the pattern admits only numbers
			ms += v
		}
		mb, _ := strconv.ParseFloat(m[6], 64)
		tr.cycles++
		tr.cpu += time.Duration(ms * float64(time.Millisecond))
		live += mb
	}
	if tr.cycles > 0 {
		tr.liveMB = live / float64(tr.cycles)
	}
	return tr
}

func TestParseGCTrace(t *testing.T) {
	out := "2026-12-02T03:00:00Z info service ready\n" +
		"gc 7 @12.5s 3%: 0.10+4.0+0.05 ms clock, 0.20+1.5/3.0/2.0+0.10 ms cpu, 30->32->12 MB, 34 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" +
		"gc 8 @13.1s 3%: 0.10+4.0+0.05 ms clock, 0.30+0/2.0/0.5+0.20 ms cpu, 24->25->14 MB, 26 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)\n" +
		"scvg: something else\n"
	tr := parseGCTrace(out)
	if tr.cycles != 2 {
		t.Fatalf("%d cycles, want 2", tr.cycles)
	}
	// (0.2+1.5+3+2+0.1) + (0.3+0+2+0.5+0.2) ms
	if want := 9800 * time.Microsecond; tr.cpu < want-time.Microsecond || tr.cpu > want+time.Microsecond {
		t.Errorf("GC CPU %v, want %v", tr.cpu, want)
	}
	if tr.liveMB != 13 {
		t.Errorf("mean live heap %v MB, want 13", tr.liveMB)
	}
	if tr := parseGCTrace("no collections here\n"); tr != (gcTrace{}) {
		t.Errorf("%+v from no gctrace lines", tr)
	}
}
