package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBaselineMergeHalves builds the two halves of the recording apart and merges them: the
// merge must be the build over the whole. The halves split on a span boundary: lines 2k+1 and
// 2k+2 are scrape k, which reports span k's increase, so lines 1-18 (scrapes 0-8) learn spans
// 1-8 and lines 17-36 (scrapes 8-17, scrape 8 priming the counters again) learn spans 9-17.
func TestBaselineMergeHalves(t *testing.T) {
	lines := strings.SplitAfter(readFile(t, exampleMetrics), "\n")
	for _, perPod := range []string{"false", "true"} {
		t.Run("per_pod "+perPod, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeFile(t, dir, "config.yaml", "learn:\n  per_pod: "+perPod+"\n  volumes: true\n  signal_counts: true\n  min_count: 0\n")
			first := writeFile(t, dir, "first.jsonl", strings.Join(lines[:18], ""))
			second := writeFile(t, dir, "second.jsonl", strings.Join(lines[16:], ""))
			build := func(out string, inputs ...string) baselineValues {
				t.Helper()
				args := append([]string{"baseline", "build", "--config", cfg, "--out", out}, inputs...)
				if r := runArgs(t, "", args...); r.code != exitOK {
					t.Fatalf("%v: exit %d; stderr:\n%s", args, r.code, r.stderr)
				}
				return parseBaseline(t, readFile(t, out))
			}
			a := build(filepath.Join(dir, "a.csv"), first)
			b := build(filepath.Join(dir, "b.csv"), second)
			whole := build(filepath.Join(dir, "whole.csv"), exampleMetrics)
			// The halves hold 8 and 9 of the 17 spans: disjoint, and together all of them.
			spans := map[string]float64{"false": 1, "true": 2}[perPod] // web's pods per span
			if a.rows["demo:web"]["count"] != 8*spans || b.rows["demo:web"]["count"] != 9*spans || whole.rows["demo:web"]["count"] != 17*spans {
				t.Fatalf("counts %v + %v, whole %v", a.rows["demo:web"]["count"], b.rows["demo:web"]["count"], whole.rows["demo:web"]["count"])
			}

			out := filepath.Join(dir, "a.csv") // in place: the inputs are read before the output is written
			r := runArgs(t, "", "baseline", "merge", "--out", out, filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv"))
			if r.code != exitOK || r.stdout != "" || r.stderr != "" {
				t.Fatalf("merge: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
			}
			wantBaselineNear(t, parseBaseline(t, readFile(t, out)), whole, 1e-9)

			r = runArgs(t, "", "baseline", "merge", filepath.Join(dir, "b.csv"), filepath.Join(dir, "whole.csv"))
			if r.code != exitOK {
				t.Fatalf("merge to stdout: exit %d; stderr:\n%s", r.code, r.stderr)
			}
			if got := parseBaseline(t, r.stdout); got.rows["demo:web"]["count"] != 26*spans {
				t.Errorf("stdout: web count %v, want %v", got.rows["demo:web"]["count"], 26*spans)
			}
		})
	}
}

const (
	ratioHeader  = "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen"
	volumeHeader = "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound," +
		"avg_inbound_network_io,avg_outbound_network_io,stdev_inbound_network_io,stdev_outbound_network_io,count,last_seen"
)

func TestBaselineMergeMismatch(t *testing.T) {
	dir := t.TempDir()
	with := writeFile(t, dir, "with-volumes.csv", volumeHeader+"\ndemo:web,2,0.5,0.5,0.125,4000,2000,1000,1000,10,1736899190\n")
	without := writeFile(t, dir, "ratios-only.csv", ratioHeader+"\ndemo:web,2,0.5,0.5,0.125,10,1736899190\n")
	out := filepath.Join(dir, "merged.csv")
	for _, order := range [][]string{{with, without}, {without, with}} {
		r := runArgs(t, "", append([]string{"baseline", "merge", "--out", out}, order...)...)
		wantFailure(t, r, exitFailure,
			"k8snetio baseline merge: "+without+" has no volume columns (avg_inbound_network_io, ...), but "+with+" has")
		wantNoFile(t, out)
	}

	t.Run("bad file", func(t *testing.T) {
		bad := writeFile(t, dir, "bad.csv", ratioHeader+"\ndemo:web,2,0.5,0.5,0.125,ten,1736899190\n")
		r := runArgs(t, "", "baseline", "merge", without, bad)
		wantFailure(t, r, exitFailure, bad+`:2:6: "ten" is not an integer`)
	})
	t.Run("missing file", func(t *testing.T) {
		r := runArgs(t, "", "baseline", "merge", without, filepath.Join(dir, "none.csv"))
		wantFailure(t, r, exitFailure, filepath.Join(dir, "none.csv"))
	})
}

// TestBaselineMergeSplunkExport merges a learned file with an export of the Splunk lookup, which
// has no count_<signal> columns: allowed, said, and the result has none either.
func TestBaselineMergeSplunkExport(t *testing.T) {
	dir := t.TempDir()
	learned := writeFile(t, dir, "learned.csv", ratioHeader+",count_inbound:outbound,count_outbound:inbound\ndemo:web,2,0.5,0,0,3,1736899190,3,3\n")
	export := writeFile(t, dir, "export.csv", ratioHeader+"\ndemo:web,4,0.25,0,0,1,1736899200\n")
	r := runArgs(t, "", "baseline", "merge", learned, export)
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if want := "k8snetio baseline merge: warning: " + export + " has no count_<signal> columns: each signal's number of values is taken to be count, and the result has no count_ columns\n"; r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	// inbound:outbound 2, 2, 2 and 4: mean 2.5, sample variance (3 × 0.5² + 1.5²)/3 = 1.
	// outbound:inbound 0.5, 0.5, 0.5 and 0.25: mean 0.4375, variance (3 × 0.0625² + 0.1875²)/3 = 0.015625, stdev 0.125.
	if want := ratioHeader + "\ndemo:web,2.5,0.4375,1,0.125,4,1736899200\n"; r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
}

func TestBaselineDiff(t *testing.T) {
	dir := t.TempDir()
	old := writeFile(t, dir, "old.csv", strings.Join([]string{
		ratioHeader,
		"demo:web,2,0.5,0.5,0.125,100,1736899190",
		"demo:db,1,1,0.25,0.25,100,1736899190",
		"demo:flat,3,,0,,100,1736899190",
		"demo:gone,1,1,0.1,0.1,100,1736899190",
	}, "\n")+"\n")
	cur := writeFile(t, dir, "new.csv", strings.Join([]string{
		ratioHeader,
		"demo:web,3.75,0.5,0.5,0.125,200,1737503990", // inbound:outbound +1.75 = 3.5 sigmas
		"demo:db,1.5,0.5,0.25,0.25,200,1737503990",   // +2 and -2 sigmas
		"demo:flat,3.5,2,0,0,200,1737503990",         // from a stdev of 0, any move; outbound:inbound is new, not a move
		"demo:new,1,1,0.1,0.1,200,1737503990",
	}, "\n")+"\n")
	sections := func(moved ...string) string {
		return "\nadded:\n  + demo:new\n\nremoved:\n  - demo:gone\n\nmoved:\n" + strings.Join(moved, "")
	}
	const (
		dbIn   = "  ~ demo:db    inbound:outbound    avg 1 -> 1.5 (old stdev 0.25, +2.00 sigma)\n"
		dbOut  = "  ~ demo:db    outbound:inbound    avg 1 -> 0.5 (old stdev 0.25, -2.00 sigma)\n"
		flatIn = "  ~ demo:flat  inbound:outbound    avg 3 -> 3.5 (old stdev 0, +inf sigma)\n"
		webIn  = "  ~ demo:web   inbound:outbound    avg 2 -> 3.75 (old stdev 0.5, +3.50 sigma)\n"
	)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "1 added, 1 removed, 2 moved by more than 3 standard deviations\n" + sections(flatIn, webIn)},
		{[]string{"--sigmas", "1.5"}, "1 added, 1 removed, 4 moved by more than 1.5 standard deviations\n" + sections(dbIn, dbOut, flatIn, webIn)},
		// Exactly 2 sigmas is not more than 2.
		{[]string{"--sigmas", "2"}, "1 added, 1 removed, 2 moved by more than 2 standard deviations\n" + sections(flatIn, webIn)},
	} {
		r := runArgs(t, "", append(append([]string{"baseline", "diff"}, tt.args...), old, cur)...)
		if r.code != exitOK || r.stderr != "" || r.stdout != tt.want {
			t.Errorf("%v: exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", tt.args, r.code, r.stdout, tt.want, r.stderr)
		}
	}

	t.Run("no differences", func(t *testing.T) {
		r := runArgs(t, "", "baseline", "diff", old, old)
		if want := "0 added, 0 removed, 0 moved by more than 3 standard deviations\n"; r.code != exitOK || r.stdout != want {
			t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", r.code, r.stdout, want, r.stderr)
		}
	})
	t.Run("bad file", func(t *testing.T) {
		bad := writeFile(t, dir, "bad.csv", ratioHeader+"\ndemo:web,2,0.5,-1,0.125,100,1736899190\n")
		wantFailure(t, runArgs(t, "", "baseline", "diff", old, bad), exitFailure, bad+":2:4: negative standard deviation -1")
		wantFailure(t, runArgs(t, "", "baseline", "diff", filepath.Join(dir, "none.csv"), old), exitFailure, filepath.Join(dir, "none.csv"))
	})
}
