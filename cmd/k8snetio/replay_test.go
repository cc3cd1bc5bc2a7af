package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	exampleConfig   = filepath.Join(replayDir, "config.yaml")
	exampleMetrics  = filepath.Join(replayDir, "metrics.jsonl")
	exampleBaseline = filepath.Join(replayDir, "baseline.csv")
)

// result is one in-process run of the command.
type result struct {
	code           int
	stdout, stderr string
}

func runArgs(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantExpected checks a successful run printed exactly the example's expected events.
func wantExpected(t *testing.T, r result) {
	t.Helper()
	if r.code != exitOK {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	if want := readFile(t, filepath.Join(replayDir, "expected.jsonl")); r.stdout != want {
		t.Fatalf("stdout differs from expected.jsonl\ngot:\n%s\nwant:\n%s\nstderr:\n%s", r.stdout, want, r.stderr)
	}
}

// wantFailure checks a run failed with the given status, printed no events, and said what.
func wantFailure(t *testing.T, r result, code int, stderrHas ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d; stderr:\n%s", r.code, code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout must be empty on failure, got:\n%s", r.stdout)
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

func TestReplayExample(t *testing.T) {
	r := runArgs(t, "", "replay", "--config", exampleConfig, exampleMetrics)
	wantExpected(t, r)
	// The summary the README quotes: 36 lines of 20 or 22 points; 4 pods x 17 scored spans; web-q4m9z's 6 + 5 anomalous.
	want := "k8snetio replay: 36 lines, 720 data points; k8s.pod.network.io points: 180 used, 0 dropped; 68 pod-spans scored, 11 anomalous; 1 event\n"
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
}

func TestReplayStdin(t *testing.T) {
	metrics := readFile(t, exampleMetrics)
	t.Run("no input", func(t *testing.T) {
		wantExpected(t, runArgs(t, metrics, "replay", "--config", exampleConfig))
	})
	t.Run("dash", func(t *testing.T) {
		wantExpected(t, runArgs(t, metrics, "replay", "--config", exampleConfig, "-"))
	})
}

func TestReplayInputs(t *testing.T) {
	lines := strings.SplitAfter(readFile(t, exampleMetrics), "\n")
	dir := t.TempDir()
	t.Run("several files are one stream", func(t *testing.T) {
		first := writeFile(t, dir, "part1.jsonl", strings.Join(lines[:15], ""))
		second := writeFile(t, dir, "part2.jsonl", strings.Join(lines[15:], ""))
		wantExpected(t, runArgs(t, "", "replay", "--config", exampleConfig, first, second))
	})
	t.Run("flags after inputs", func(t *testing.T) {
		wantExpected(t, runArgs(t, "", "replay", exampleMetrics, "--config", exampleConfig))
	})
	t.Run("blank lines and CRLF", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("\n")
		for _, l := range lines {
			b.WriteString(strings.TrimSuffix(l, "\n") + "\r\n  \r\n")
		}
		wantExpected(t, runArgs(t, "", "replay", "--config", exampleConfig, writeFile(t, dir, "crlf.jsonl", b.String())))
	})
	t.Run("missing file", func(t *testing.T) {
		r := runArgs(t, "", "replay", "--config", exampleConfig, exampleMetrics, filepath.Join(dir, "nope.jsonl"))
		wantFailure(t, r, exitFailure, "nope.jsonl")
	})
}

func TestReplayBadLine(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(readFile(t, exampleMetrics), "\n"), "\n")
	with := func(n int, line string) string { // the example with line n (1-based) replaced, or appended after the end
		ls := append([]string(nil), lines...)
		if n > len(ls) {
			ls = append(ls, line)
		} else {
			ls[n-1] = line
		}
		return strings.Join(ls, "\n") + "\n"
	}
	tests := []struct {
		name, content string
		stderrHas     []string
	}{
		{"truncated", with(17, lines[16][:300]), []string{"metrics.jsonl:17: not valid JSON: unexpected end of JSON input"}},
		// After the last window closed: events are already out of the engine, yet none may be printed.
		{"bad last line", with(37, "garbage"), []string{"metrics.jsonl:37: not valid JSON: invalid character 'g'"}},
		{"trailing garbage", with(5, lines[4]+" x"), []string{"metrics.jsonl:5: not valid JSON"}},
		{"not OTLP", with(3, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"dataPoints":[{"asInt":"abc"}]}}]}]}]}`),
			[]string{"metrics.jsonl:3: not OTLP metrics JSON"}},
		{"logs recording", with(1, `{"resourceLogs":[]}`), []string{"metrics.jsonl:1: not OTLP metrics JSON: no resourceMetrics, but resourceLogs"}},
		{"not an object", with(2, `null`), []string{"metrics.jsonl:2: not OTLP metrics JSON"}},
		{"two bad lines", with(37, "{") + "[1]\n", []string{"metrics.jsonl:37:", "metrics.jsonl:38:", "2 bad input lines; no events printed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "metrics.jsonl", tt.content)
			r := runArgs(t, "", "replay", "--config", exampleConfig, path)
			wantFailure(t, r, exitFailure, tt.stderrHas...)
		})
	}
	t.Run("stdin", func(t *testing.T) {
		r := runArgs(t, with(2, "{"), "replay", "--config", exampleConfig)
		wantFailure(t, r, exitFailure, "<stdin>:2: not valid JSON")
	})
	t.Run("too many", func(t *testing.T) {
		r := runArgs(t, strings.Repeat("x\n", 50), "replay", "--config", exampleConfig)
		wantFailure(t, r, exitFailure, "<stdin>:10:", "<stdin>:11: more bad lines; stopped reading", "more than 10 bad input lines")
		if strings.Contains(r.stderr, "<stdin>:12:") {
			t.Errorf("reported past the limit:\n%s", r.stderr)
		}
	})
}

func TestReplayUsageErrors(t *testing.T) {
	t.Run("missing --config", func(t *testing.T) {
		wantFailure(t, runArgs(t, "", "replay", exampleMetrics), exitUsage, "--config FILE is required", "k8snetio replay -h")
	})
	t.Run("unknown flag", func(t *testing.T) {
		wantFailure(t, runArgs(t, "", "replay", "--config", exampleConfig, "--nope"), exitUsage, "-nope")
	})
	t.Run("flag without value", func(t *testing.T) {
		wantFailure(t, runArgs(t, "", "replay", "--config"), exitUsage, "config")
	})
}

func TestReplayBaselineOverride(t *testing.T) {
	dir := t.TempDir()
	t.Run("replaces a missing path", func(t *testing.T) {
		cfg := writeFile(t, dir, "config.yaml", "span: 10s\nwindow: 1m\nbaseline:\n  path: does-not-exist.csv\n")
		wantExpected(t, runArgs(t, "", "replay", "--config", cfg, "--baseline", exampleBaseline, exampleMetrics))
	})
	t.Run("supplies a path the config lacks", func(t *testing.T) {
		cfg := writeFile(t, dir, "nopath.yaml", "window: 1m\n")
		wantExpected(t, runArgs(t, "", "replay", "--config", cfg, "--baseline", exampleBaseline, exampleMetrics))
		r := runArgs(t, "", "replay", "--config", cfg, exampleMetrics)
		wantFailure(t, r, exitFailure, "baseline.path: must name the baseline CSV file", "--baseline FILE")
	})
	t.Run("is used instead of the config's", func(t *testing.T) {
		// Forty times the spread: the thresholds become 2 + 4*20 and 0.5 + 4*5, which nothing exceeds.
		quiet := writeFile(t, dir, "quiet.csv", strings.Join([]string{
			"key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound",
			"demo:web,2,0.5,20,5",
		}, "\n")+"\n")
		r := runArgs(t, "", "replay", "--config", exampleConfig, "--baseline", quiet, exampleMetrics)
		if r.code != exitOK || r.stdout != "" || !strings.Contains(r.stderr, " 0 anomalous; 0 events") {
			t.Fatalf("exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

func TestReplayBadBaseline(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.csv", strings.Join([]string{
		"key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound",
		"demo:web,2,0.5,0.5,0.125",
		"demo:db,1,1,0.25,lots",
	}, "\n")+"\n")
	t.Run("from --baseline", func(t *testing.T) {
		r := runArgs(t, "", "replay", "--config", exampleConfig, "--baseline", bad, exampleMetrics)
		wantFailure(t, r, exitFailure, "baseline: "+bad+":3:5:", `"lots" is not a number`)
	})
	t.Run("from the config, relative to it", func(t *testing.T) {
		cfg := writeFile(t, dir, "config.yaml", "baseline:\n  path: bad.csv\n")
		r := runArgs(t, "", "replay", "--config", cfg, exampleMetrics)
		wantFailure(t, r, exitFailure, bad+":3:5:")
	})
	t.Run("missing", func(t *testing.T) {
		r := runArgs(t, "", "replay", "--config", exampleConfig, "--baseline", filepath.Join(dir, "none.csv"), exampleMetrics)
		wantFailure(t, r, exitFailure, "none.csv")
	})
}
