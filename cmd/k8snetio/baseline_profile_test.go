package main

import (
	"encoding/csv"
	"strconv"
	"strings"
	"testing"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// TestBaselineBuildProfile: with profile: recommended, build passes every pod-span's
// rates (bytes over the 10 s its increases cover) to the learner, which writes the
// profile's columns: the histograms are exactly those of the generator's pod-spans,
// pooled per service, and the component's loader reads the figures.
func TestBaselineBuildProfile(t *testing.T) {
	for _, perPod := range []string{"false", "true"} {
		t.Run("per_pod="+perPod, func(t *testing.T) {
			cfg := writeFile(t, t.TempDir(), "config.yaml",
				"profile: recommended\nlearn:\n  per_pod: "+perPod+"\n  signal_counts: true\n  min_count: 0\n")
			r := runArgs(t, "", "baseline", "build", "--config", cfg, exampleMetrics)
			if r.code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
			}
			recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			header := recs[0]
			if got := strings.Join(header[len(header)-len(baseline.ProfileColumns):], ","); got != strings.Join(baseline.ProfileColumns, ",") {
				t.Fatalf("header %v: no profile columns at the end", header)
			}
			col := map[string]int{}
			for i, name := range header {
				col[name] = i
			}
			want := map[string]*profile.Model{}
			for _, s := range genPodSpans() {
				if want[s.key] == nil {
					want[s.key] = &profile.Model{}
				}
				want[s.key].Observe(s.in/10, s.out/10)
			}
			if len(recs)-1 != len(want) {
				t.Errorf("%d keys, want %d", len(recs)-1, len(want))
			}
			for _, rec := range recs[1:] {
				m := want[rec[0]]
				if m == nil {
					t.Errorf("unexpected key %s", rec[0])
					continue
				}
				for name, h := range map[string]profile.Hist{"hist_inbound_bps": m.In, "hist_outbound_bps": m.Out, "hist_outbound:inbound": m.Ratio} {
					text, _ := h.MarshalText()
					if rec[col[name]] != string(text) {
						t.Errorf("%s %s:\n got %s\nwant %s", rec[0], name, rec[col[name]], text)
					}
				}
				if rec[col["count_pod_spans"]] != strconv.FormatUint(m.In.N(), 10) {
					t.Errorf("%s: count_pod_spans %s, want %d", rec[0], rec[col["count_pod_spans"]], m.In.N())
				}
			}
			b, err := baseline.Parse(strings.NewReader(r.stdout), "learned.csv")
			if err != nil {
				t.Fatal(err)
			}
			u, ok := b.Usual("demo:web")
			if wantU, _ := want["demo:web"].Usual(); !ok || u != wantU {
				t.Errorf("demo:web usual %+v (ok %t), want %+v", u, ok, wantU)
			}
		})
	}
}

// TestBaselineMergeProfile: merging a built file with itself doubles every histogram
// count (a merge adds pod-spans), and a file without the profile's columns does not merge
// with one that has them.
func TestBaselineMergeProfile(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "config.yaml", "profile: recommended\nlearn:\n  per_pod: true\n  signal_counts: true\n  min_count: 0\n")
	r := runArgs(t, "", "baseline", "build", "--config", cfg, exampleMetrics)
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	built := writeFile(t, dir, "built.csv", r.stdout)
	m := runArgs(t, "", "baseline", "merge", built, built)
	if m.code != exitOK {
		t.Fatalf("merge: exit %d; stderr:\n%s", m.code, m.stderr)
	}
	one, two := profileOf(t, r.stdout), profileOf(t, m.stdout)
	for key, h := range one {
		got, ok := two[key]
		if !ok {
			t.Fatalf("%s missing from the merge", key)
		}
		for i := range h {
			var want profile.Hist
			want.Merge(h[i])
			want.Merge(h[i])
			if a, b := text(want), text(got[i]); a != b || h[i].N() == 0 && i < 2 {
				t.Errorf("%s: merged histogram %d is %s, want %s (of %s)", key, i, b, a, text(h[i]))
			}
		}
	}
	plain := writeFile(t, dir, "plain.csv", runArgs(t, "", "baseline", "build", "--config",
		writeFile(t, dir, "plain.yaml", "learn:\n  per_pod: true\n  signal_counts: true\n  min_count: 0\n"), exampleMetrics).stdout)
	if f := runArgs(t, "", "baseline", "merge", built, plain); f.code != exitFailure || !strings.Contains(f.stderr, "has the profile's columns") {
		t.Errorf("merge with a file without the profile: exit %d, stderr:\n%s", f.code, f.stderr)
	}
}

func text(h profile.Hist) string {
	b, _ := h.MarshalText()
	return string(b)
}

// profileOf reads a learned file's histograms per key (inbound, outbound, ratio).
func profileOf(t *testing.T, file string) map[string][3]profile.Hist {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	n := len(recs[0])
	out := map[string][3]profile.Hist{}
	for _, rec := range recs[1:] {
		var h [3]profile.Hist
		for i := range h {
			if err := h[i].UnmarshalText([]byte(rec[n-3+i])); err != nil {
				t.Fatal(err)
			}
		}
		out[rec[0]] = h
	}
	return out
}
