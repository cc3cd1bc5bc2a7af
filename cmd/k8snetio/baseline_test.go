package main

import (
	"encoding/csv"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBaselineHelp(t *testing.T) {
	if r := runArgs(t, "", "help"); !strings.Contains(r.stdout, "\n  baseline   learn baselines") {
		t.Errorf("top-level usage lacks baseline:\n%s", r.stdout)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "baseline"}, baselineUsage},
		{[]string{"baseline", "-h"}, baselineUsage},
		{[]string{"baseline", "--help"}, baselineUsage},
		{[]string{"baseline", "help"}, baselineUsage},
		{[]string{"baseline", "build", "-h"}, baselineBuildUsage},
		{[]string{"baseline", "help", "build"}, baselineBuildUsage},
		{[]string{"baseline", "merge", "--help"}, baselineMergeUsage},
		{[]string{"baseline", "help", "merge"}, baselineMergeUsage},
		{[]string{"baseline", "diff", "-h"}, baselineDiffUsage},
		{[]string{"baseline", "help", "diff"}, baselineDiffUsage},
	} {
		r := runArgs(t, "", tt.args...)
		if r.code != exitOK || r.stdout != tt.want || r.stderr != "" {
			t.Errorf("%v: exit %d, stdout:\n%s\nstderr:\n%s", tt.args, r.code, r.stdout, r.stderr)
		}
	}
	// The help texts are read in terminals.
	for _, text := range []string{baselineUsage, baselineBuildUsage, baselineMergeUsage, baselineDiffUsage} {
		for _, line := range strings.Split(text, "\n") {
			if n := len([]rune(line)); n > 92 {
				t.Errorf("help line of %d characters: %q", n, line)
			}
		}
	}
}

func TestBaselineUsageErrors(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.csv", "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n")
	for _, tt := range []struct {
		args      []string
		stderrHas string
	}{
		{[]string{"baseline"}, "Usage: k8snetio baseline <command>"},
		{[]string{"baseline", "bulid"}, `unknown command "bulid"`},
		{[]string{"baseline", "help", "bulid"}, `unknown command "bulid"`},
		{[]string{"baseline", "build", exampleMetrics}, "--config FILE is required"},
		{[]string{"baseline", "build", "--nope"}, "-nope"},
		{[]string{"baseline", "merge"}, "no baseline files given"},
		{[]string{"baseline", "diff", a}, "want OLD.csv and NEW.csv, got 1 file"},
		{[]string{"baseline", "diff", a, a, a}, "got 3 files"},
		{[]string{"baseline", "diff", "--sigmas", "-1", a, a}, "--sigmas must be a finite number, 0 or more, got -1"},
		{[]string{"baseline", "diff", "--sigmas", "NaN", a, a}, "got NaN"},
		{[]string{"baseline", "diff", "--sigmas", "x", a, a}, "invalid value"},
	} {
		r := runArgs(t, "", tt.args...)
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, tt.stderrHas) {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", tt.args, r.code, r.stdout, r.stderr)
		}
	}
}

// A baseline CSV as numbers: rows by key, cells by column name; empty cells are absent.
type baselineValues struct {
	header []string
	rows   map[string]map[string]float64
}

func parseBaseline(t *testing.T, text string) baselineValues {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("not a baseline CSV (%v):\n%s", err, text)
	}
	b := baselineValues{header: recs[0], rows: map[string]map[string]float64{}}
	for _, rec := range recs[1:] {
		row := map[string]float64{}
		for i, cell := range rec[1:] {
			if cell == "" {
				continue
			}
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil {
				t.Fatalf("%s: column %s: %v", rec[0], b.header[i+1], err)
			}
			row[b.header[i+1]] = v
		}
		b.rows[rec[0]] = row
	}
	return b
}

// wantBaselineNear checks got has want's keys and columns, and numbers within rel of want's.
// A nil header in want is not checked.
func wantBaselineNear(t *testing.T, got, want baselineValues, rel float64) {
	t.Helper()
	if want.header != nil && !slices.Equal(got.header, want.header) {
		t.Errorf("header:\n%v\nwant:\n%v", got.header, want.header)
	}
	for key, w := range want.rows {
		g, ok := got.rows[key]
		if !ok {
			t.Errorf("key %s missing", key)
			continue
		}
		for col, wv := range w {
			gv, ok := g[col]
			if !ok {
				t.Errorf("%s: %s missing, want %v", key, col, wv)
			} else if !near(gv, wv, rel) {
				t.Errorf("%s: %s = %v, want %v", key, col, gv, wv)
			}
		}
		for col, gv := range g {
			if _, ok := w[col]; !ok {
				t.Errorf("%s: %s = %v, want empty", key, col, gv)
			}
		}
	}
	for key := range got.rows {
		if _, ok := want.rows[key]; !ok {
			t.Errorf("unexpected key %s", key)
		}
	}
}

func near(a, b, rel float64) bool {
	return a == b || math.Abs(a-b) <= rel*max(math.Abs(a), math.Abs(b))
}

// genPodSpan is one pod's traffic in one span, as the generator of metrics.jsonl describes it.
type genPodSpan struct {
	key, pod, namespace string
	span                int
	in, out             float64
}

// genPodSpans lists the traffic behind metrics.jsonl from the generator's description: scrape k
// (k >= 1) reports span k's increase, summed over the pod's interfaces. The services are written
// out, not derived with the engine's pattern.
func genPodSpans() []genPodSpan {
	services := map[string]string{
		"web-7c5ddbdf54-x8f2k": "web", "web-7c5ddbdf54-q4m9z": "web",
		"fluentd-k2v7p": "fluentd", "postgres-0": "postgres-0",
	}
	var spans []genPodSpan
	for _, n := range genNodes() {
		for _, p := range n.pods {
			for k := 1; k < genScrapes; k++ {
				s := genPodSpan{key: "demo:" + services[p.name], pod: p.name, namespace: p.namespace, span: k}
				for _, ifc := range p.ifaces {
					rx, tx := ifc.inc(k)
					s.in += float64(rx)
					s.out += float64(tx)
				}
				spans = append(spans, s)
			}
		}
	}
	return spans
}

// twoPassBaseline is the baseline search over the pod-spans, computed the plain way, in exact
// rational arithmetic: group the values, then the mean, then the squared deviations from it.
// Parity averages each key's pods per span first; per-pod takes every pod-span as it is. Every
// direction is present in this data.
func twoPassBaseline(spans []genPodSpan, perPod bool) baselineValues {
	type unit struct{ in, out *big.Rat }
	rat := func(v float64) *big.Rat { return new(big.Rat).SetFloat64(v) } // the byte counts are integers
	units := map[string][]unit{}
	if perPod {
		for _, s := range spans {
			units[s.key] = append(units[s.key], unit{rat(s.in), rat(s.out)})
		}
	} else {
		type keySpan struct {
			key  string
			span int
		}
		var order []keySpan
		pods := map[keySpan][]genPodSpan{}
		for _, s := range spans {
			ks := keySpan{s.key, s.span}
			if pods[ks] == nil {
				order = append(order, ks)
			}
			pods[ks] = append(pods[ks], s)
		}
		for _, ks := range order {
			in, out := new(big.Rat), new(big.Rat)
			for _, s := range pods[ks] {
				in.Add(in, rat(s.in))
				out.Add(out, rat(s.out))
			}
			n := big.NewRat(int64(len(pods[ks])), 1)
			units[ks.key] = append(units[ks.key], unit{in.Quo(in, n), out.Quo(out, n)})
		}
	}
	lastSeen := float64(genT0.Add(time.Duration(genScrapes-1) * 10 * time.Second).Unix())
	b := baselineValues{rows: map[string]map[string]float64{}}
	for key, us := range units {
		values := map[string][]*big.Rat{}
		for _, u := range us {
			values["inbound:outbound"] = append(values["inbound:outbound"], new(big.Rat).Quo(u.in, u.out))
			values["outbound:inbound"] = append(values["outbound:inbound"], new(big.Rat).Quo(u.out, u.in))
			values["inbound_network_io"] = append(values["inbound_network_io"], u.in)
			values["outbound_network_io"] = append(values["outbound_network_io"], u.out)
		}
		row := map[string]float64{"count": float64(len(us)), "last_seen": lastSeen}
		for sig, vs := range values {
			mean := new(big.Rat)
			for _, v := range vs {
				mean.Add(mean, v)
			}
			mean.Quo(mean, big.NewRat(int64(len(vs)), 1))
			ss := new(big.Rat)
			for _, v := range vs {
				d := new(big.Rat).Sub(v, mean)
				ss.Add(ss, d.Mul(d, d))
			}
			variance, _ := ss.Quo(ss, big.NewRat(int64(len(vs)-1), 1)).Float64()
			row["avg_"+sig], _ = mean.Float64()
			row["stdev_"+sig] = math.Sqrt(variance)
			row["count_"+sig] = float64(len(vs))
		}
		b.rows[key] = row
	}
	return b
}
