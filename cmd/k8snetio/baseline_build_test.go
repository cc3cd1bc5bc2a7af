package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// baselineDir holds the build example; testdata/baseline/README.md works out its numbers.
const baselineDir = "../../testdata/baseline"

var exampleBuildConfig = filepath.Join(baselineDir, "config.yaml")

// wantNoFile checks a failed run left no file at path.
func wantNoFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s exists after a failed run (stat: %v)", path, err)
	}
}

func TestBaselineBuildExample(t *testing.T) {
	expected := readFile(t, filepath.Join(baselineDir, "expected.csv"))
	r := runArgs(t, "", "baseline", "build", "--config", exampleBuildConfig, exampleMetrics)
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	// The learner's Welford stdevs may differ from the correctly rounded ones in the last place.
	wantBaselineNear(t, parseBaseline(t, r.stdout), parseBaseline(t, expected), 1e-12)
	want := "k8snetio baseline build: 36 lines, 720 data points; k8s.pod.network.io points: 144 used, 36 dropped (excluded 36); " +
		"51 pod-spans with both directions; 2 keys written, from 1 UTC day\n"
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}

	t.Run("expected.csv is the search's statistics", func(t *testing.T) {
		// The config's exclusion, by namespace, applied by hand.
		var spans []genPodSpan
		for _, s := range genPodSpans() {
			if s.namespace != "logging" {
				spans = append(spans, s)
			}
		}
		wantBaselineNear(t, parseBaseline(t, expected), twoPassBaseline(spans, false), 1e-15)
	})
	t.Run("--out writes the same", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "learned.csv")
		r2 := runArgs(t, "", "baseline", "build", exampleMetrics, "--config", exampleBuildConfig, "--out", out)
		if r2.code != exitOK || r2.stdout != "" || r2.stderr != want {
			t.Fatalf("exit %d, stdout %q, stderr:\n%s", r2.code, r2.stdout, r2.stderr)
		}
		if got := readFile(t, out); got != r.stdout {
			t.Errorf("--out file:\n%s\nstdout:\n%s", got, r.stdout)
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("mode: %v, %v", fi.Mode(), err) // readable by a collector running as another user
		}
	})
	t.Run("stdin", func(t *testing.T) {
		r2 := runArgs(t, readFile(t, exampleMetrics), "baseline", "build", "--config", exampleBuildConfig, "-")
		if r2.code != exitOK || r2.stdout != r.stdout {
			t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", r2.code, r2.stdout, r2.stderr)
		}
	})
}

// TestBaselineBuildModes checks both learning units against the two-pass computation, over all
// four pods (fluentd's counter reset included).
func TestBaselineBuildModes(t *testing.T) {
	for _, perPod := range []bool{false, true} {
		name := map[bool]string{false: "parity", true: "per_pod"}[perPod]
		t.Run(name, func(t *testing.T) {
			cfg := writeFile(t, t.TempDir(), "config.yaml",
				"learn:\n  per_pod: "+map[bool]string{false: "false", true: "true"}[perPod]+"\n  volumes: true\n  signal_counts: true\n  min_count: 0\n")
			r := runArgs(t, "", "baseline", "build", "--config", cfg, exampleMetrics)
			if r.code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			want := twoPassBaseline(genPodSpans(), perPod)
			if n := want.rows["demo:web"]["count"]; n != map[bool]float64{false: 17, true: 34}[perPod] {
				t.Fatalf("two-pass web count %v", n) // guards the computation the test relies on
			}
			wantBaselineNear(t, parseBaseline(t, r.stdout), want, 1e-12)
		})
	}
}

func TestBaselineBuildMinCount(t *testing.T) {
	// The default min_count, 360 spans, is more than the recording's 17; the default columns
	// are exactly the baseline search's.
	cfg := writeFile(t, t.TempDir(), "config.yaml", "span: 10s\n")
	r := runArgs(t, "", "baseline", "build", "--config", cfg, exampleMetrics)
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if want := "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n"; r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	if !strings.HasSuffix(r.stderr, "; 0 keys written, from 1 UTC day; 3 keys left out with a count below learn.min_count (360)\n") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// TestBaselineBuildOfflineSettings checks that the settings of in-collector learning and the
// baseline being scored do not matter offline, in a whole collector config.
func TestBaselineBuildOfflineSettings(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "broken.csv", "key,avg_inbound:outbound\ndemo:web,lots\n")
	learnPath := filepath.Join(dir, "learned-in-collector.csv")
	cfg := writeFile(t, dir, "collector.yaml", `receivers:
  kubeletstats: {}
processors:
  k8s_netio_anomaly/learner:
    baseline:
      path: broken.csv
    learn:
      enabled: true
      path: `+learnPath+`
      volumes: true
      signal_counts: true
      min_count: 10
      exclude: true
    exclude:
      - pod: ^fluentd-
service: {}
`)
	r := runArgs(t, "", "baseline", "build", "--config", cfg, exampleMetrics)
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	wantBaselineNear(t, parseBaseline(t, r.stdout), parseBaseline(t, readFile(t, filepath.Join(baselineDir, "expected.csv"))), 1e-12)
	wantNoFile(t, learnPath)
}

// TestBaselineBuildLearnsExcludedPods: exclusions are the detection's filter macro, which the
// baseline search does not apply: without learn.exclude, fluentd (excluded from scoring) is
// learned, so its key is written next to the others, from all its 17 spans.
func TestBaselineBuildLearnsExcludedPods(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "config.yaml", "span: 10s\nexclude:\n  - namespace: ^logging$\nlearn:\n  min_count: 10\n")
	r := runArgs(t, "", "baseline", "build", "--config", cfg, exampleMetrics)
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	b := parseBaseline(t, r.stdout)
	for _, key := range []string{"demo:fluentd", "demo:web", "demo:postgres-0"} {
		if _, ok := b.rows[key]; !ok {
			t.Errorf("key %s not learned; stdout:\n%s", key, r.stdout)
		}
	}
	if n := b.rows["demo:fluentd"]["count"]; n != 17 {
		t.Errorf("demo:fluentd count = %v, want 17", n)
	}
}

func TestBaselineBuildBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ config, stderrHas string }{
		{"learn:\n  days: 0\n  min_count: -1\n", "invalid configuration:\n  learn.days: must be at least 1, got 0\n  learn.min_count: must not be negative, got -1"},
		{"span: 7.5s\n", "span: must be a whole number of seconds"},
		{"learn:\n  per_pdo: true\n", "per_pdo"},
	} {
		cfg := writeFile(t, dir, "config.yaml", tt.config)
		out := filepath.Join(dir, "out.csv")
		r := runArgs(t, "", "baseline", "build", "--config", cfg, "--out", out, exampleMetrics)
		wantFailure(t, r, exitFailure, cfg, tt.stderrHas)
		wantNoFile(t, out)
	}
}

func TestBaselineBuildBadLine(t *testing.T) {
	lines := strings.SplitAfter(readFile(t, exampleMetrics), "\n")
	lines[16] = lines[16][:300] + "\n" // line 17, truncated
	dir := t.TempDir()
	path := writeFile(t, dir, "metrics.jsonl", strings.Join(lines, ""))
	out := filepath.Join(dir, "learned.csv")
	r := runArgs(t, "", "baseline", "build", "--config", exampleBuildConfig, "--out", out, path)
	wantFailure(t, r, exitFailure, path+":17: not valid JSON: unexpected end of JSON input", "k8snetio baseline build: 1 bad input line; no baseline written")
	wantNoFile(t, out)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds more than the input: %v", entries) // no temporary file left behind either
	}

	t.Run("stdout", func(t *testing.T) {
		r := runArgs(t, "", "baseline", "build", "--config", exampleBuildConfig, exampleMetrics, path)
		wantFailure(t, r, exitFailure, path+":17:")
	})
}

func TestBaselineBuildUnwritableOut(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "regular", "")
	for _, tt := range []struct{ out, stderrHas string }{
		{filepath.Join(file, "learned.csv"), "--out " + filepath.Join(file, "learned.csv") + ": " + file + " is not a directory"},
		{filepath.Join(dir, "none", "learned.csv"), "--out " + filepath.Join(dir, "none", "learned.csv") + ": stat " + filepath.Join(dir, "none") + ": no such file or directory"},
		{dir, "--out " + dir + ": is a directory"},
	} {
		r := runArgs(t, "", "baseline", "build", "--config", exampleBuildConfig, "--out", tt.out, exampleMetrics)
		wantFailure(t, r, exitFailure, tt.stderrHas)
	}
}

// TestBaselineBuildRoundTrip scores the example recording against the baseline learned from it;
// testdata/baseline/README.md explains the 2 anomalous spans.
func TestBaselineBuildRoundTrip(t *testing.T) {
	out := filepath.Join(t.TempDir(), "learned.csv")
	if r := runArgs(t, "", "baseline", "build", "--config", exampleBuildConfig, "--out", out, exampleMetrics); r.code != exitOK {
		t.Fatalf("build: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	r := runArgs(t, "", "replay", "--config", exampleConfig, "--baseline", out, exampleMetrics)
	if r.code != exitOK || r.stdout != "" || !strings.HasSuffix(r.stderr, "; 68 pod-spans scored, 2 anomalous; 0 events\n") {
		t.Fatalf("replay: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
