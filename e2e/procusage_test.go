package e2e

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// procUsage is what Linux says a process has used so far.
type procUsage struct {
	cpu time.Duration // user + system time of all its threads, exited ones included
	rss int64         // resident memory now, in bytes
}

// clockTick is USER_HZ, the unit of the times in /proc/<pid>/stat: 100 Hz on every Linux ABI Go
// supports.
const clockTick = 10 * time.Millisecond

// readProcUsage reads pid's CPU time and resident memory from /proc. The CPU time of another
// process is what a benchmark of it must count: its own wall time would include the sender.
func readProcUsage(pid int) (procUsage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procUsage{}, err
	}
	cpu, err := parseProcStatCPU(stat)
	if err != nil {
		return procUsage{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procUsage{}, err
	}
	rss, err := parseProcStatusRSS(status)
	if err != nil {
		return procUsage{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return procUsage{cpu: cpu, rss: rss}, nil
}

// parseProcStatCPU is utime + stime (fields 14 and 15) of a /proc/<pid>/stat line. The command
// name (field 2) is in parentheses and may itself hold spaces and parentheses, so the fields are
// counted from the last ')'.
func parseProcStatCPU(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("no ')' after the command name in %q", stat)
	}
	fields := bytes.Fields(stat[end+1:]) // fields[0] is field 3, the state
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad CPU time %q", f)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// parseProcStatusRSS is the VmRSS line of /proc/<pid>/status, in bytes.
func parseProcStatusRSS(status []byte) (int64, error) {
	for _, line := range bytes.Split(status, []byte{'\n'}) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("bad VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("bad VmRSS line %q", line)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmRSS line")
}

func TestParseProcStatCPU(t *testing.T) {
	// A command name with spaces and parentheses must not shift the fields.
	line := []byte("4242 (otel (col) 1) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 100 0 0\n")
	got, err := parseProcStatCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 325 * clockTick; got != want {
		t.Errorf("CPU time %v, want %v (utime 250 + stime 75 ticks)", got, want)
	}
	for _, bad := range []string{
		"4242 otelcol S 1 2 3",                           // no parentheses
		"4242 (otelcol) S 1 4242 4242 0 -1 4194560 1234", // cut short
		"4242 (otelcol) S 1 4242 4242 0 -1 4194560 1234 0 0 0 x 75 0",
	} {
		if _, err := parseProcStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q parsed without an error", bad)
		}
	}
}

func TestParseProcStatusRSS(t *testing.T) {
	status := []byte("Name:\totelcol\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   90000 kB\n")
	got, err := parseProcStatusRSS(status)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(100 << 20); got != want {
		t.Errorf("RSS %d, want %d (VmRSS, not VmHWM)", got, want)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\n", "VmRSS:\tmany kB\n"} {
		if _, err := parseProcStatusRSS([]byte(bad)); err == nil {
			t.Errorf("%q parsed without an error", bad)
		}
	}
}

// TestReadProcUsage checks the reading against this process: CPU burnt shows in it, and the
// resident memory covers a buffer that was touched.
func TestReadProcUsage(t *testing.T) {
	before, err := readProcUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	after, err := readProcUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// On a loaded machine the spin gets less than its wall time: ask for a third of it.
	if burnt := after.cpu - before.cpu; burnt < 100*time.Millisecond {
		t.Errorf("CPU time grew by %v over a 300 ms spin (%d rounds)", burnt, x)
	}
	if after.rss < int64(len(buf)) {
		t.Errorf("RSS %d B with a %d B buffer touched", after.rss, len(buf))
	}
	runtime.KeepAlive(buf)
}
