package kubeletsim

import (
	"bytes"
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

const span = 10 * time.Second

// servedSpanRatios scrapes every pod through Summary at span boundaries starting at
// simulated time from, and visits each pod-span's ratios computed from the interface sums
// (or, with defaultOnly, from the top-level default-interface counters).
func servedSpanRatios(t *testing.T, sim *Simulator, from float64, spans int, defaultOnly bool, visit func(pod string, j int, inOut, outIn float64)) {
	t.Helper()
	prev := scrape(t, sim, from)
	for j := range spans {
		cur := scrape(t, sim, from+float64(j+1)*span.Seconds())
		for name, c := range cur {
			p := prev[name]
			in, out := float64(c.rx-p.rx), float64(c.tx-p.tx)
			if defaultOnly {
				in, out = float64(c.defaultRx-p.defaultRx), float64(c.defaultTx-p.defaultTx)
			}
			visit(name, j, in/out, out/in)
		}
		prev = cur
	}
}

func baselineIndex(t *testing.T, sim *Simulator) map[string]BaselineRow {
	t.Helper()
	rows, err := sim.Baseline(2000, span)
	if err != nil {
		t.Fatal(err)
	}
	idx := map[string]BaselineRow{}
	for _, r := range rows {
		idx[r.Key] = r
	}
	return idx
}

func zScores(r BaselineRow, inOut, outIn float64) (zInOut, zOutIn float64) {
	return (inOut - r.AvgInOut) / r.StdevInOut, (outIn - r.AvgOutIn) / r.StdevOutIn
}

func TestBaselineCSV(t *testing.T) {
	sim := mustNew(t, DefaultConfig(), nil, 1)
	rows, err := sim.Baseline(2000, span)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteBaselineCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n") {
		t.Fatalf("header: %q", strings.SplitN(buf.String(), "\n", 2)[0])
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Pods per key: deployments and daemonsets pool their replicas, statefulset replicas stand alone.
	wantPods := map[string]int{
		"sim-cluster:web": 3, "sim-cluster:api": 2, "sim-cluster:cache": 2, "sim-cluster:ingest": 2,
		"sim-cluster:db-0": 1, "sim-cluster:db-1": 1, "sim-cluster:fluentd": 2, "sim-cluster:node-exporter": 2,
	}
	if len(recs)-1 != len(wantPods) {
		t.Fatalf("%d rows, want %d", len(recs)-1, len(wantPods))
	}
	for _, rec := range recs[1:] {
		n, ok := wantPods[rec[0]]
		if !ok {
			t.Errorf("unexpected key %q", rec[0])
			continue
		}
		for _, cell := range rec[1:5] {
			v, err := strconv.ParseFloat(cell, 64)
			if err != nil || !(v > 0) || strconv.FormatFloat(v, 'f', -1, 64) != cell {
				t.Errorf("%s: cell %q", rec[0], cell)
			}
		}
		if rec[5] != strconv.Itoa(2000*n) {
			t.Errorf("%s: count %s, want %d", rec[0], rec[5], 2000*n)
		}
		if rec[6] != strconv.FormatInt(testStart.Unix()-10, 10) {
			t.Errorf("%s: last_seen %s", rec[0], rec[6])
		}
	}

	// The per-service traffic mix shows in the averages.
	idx := baselineIndex(t, sim)
	if idx["sim-cluster:web"].AvgOutIn < 10 || idx["sim-cluster:ingest"].AvgInOut < 10 ||
		math.Abs(idx["sim-cluster:db-0"].AvgInOut-1) > 0.3 {
		t.Errorf("mix: web out:in %v, ingest in:out %v, db-0 in:out %v",
			idx["sim-cluster:web"].AvgOutIn, idx["sim-cluster:ingest"].AvgInOut, idx["sim-cluster:db-0"].AvgInOut)
	}
}

// The baseline must describe what the server serves: scored against it, normal pods
// almost never pass avg + 4 stdev, whether the consumer sums interfaces or reads only the
// default one, and with spans not aligned to the simulator's seconds.
func TestNormalPodsRarelyExceedFourStdev(t *testing.T) {
	for _, defaultOnly := range []bool{false, true} {
		sim := mustNew(t, DefaultConfig(), nil, 1)
		idx := baselineIndex(t, sim)
		const spans = 6000
		var n, exceed int
		worst := 0.0
		servedSpanRatios(t, sim, 0.37, spans, defaultOnly, func(pod string, _ int, inOut, outIn float64) {
			r, ok := idx["sim-cluster:"+DetectionService(pod)]
			if !ok {
				t.Fatalf("no baseline for %s", pod)
			}
			z1, z2 := zScores(r, inOut, outIn)
			worst = max(worst, z1, z2)
			n++
			if z1 > 4 || z2 > 4 {
				exceed++
			}
		})
		rate := float64(exceed) / float64(n)
		t.Logf("default interface only=%v: %d of %d normal pod-spans exceed avg+4*stdev (rate %.2g), highest z %.2f", defaultOnly, exceed, n, rate, worst)
		if rate >= 1.0/1000 {
			t.Errorf("false-positive rate %.2g, want < 1/1000", rate)
		}
	}
}

func TestFactorTwentyIncidentsClearlyExceedFourStdev(t *testing.T) {
	const start = 300.0
	incs := []Incident{
		{Kind: IncidentExfiltration, Service: "web", Replica: 1, Start: start, Factor: 20},
		{Kind: IncidentDownload, Service: "ingest", Replica: 0, Start: start, Factor: 20},
		{Kind: IncidentExfiltration, Service: "db", Replica: 0, Start: start, Factor: 20},
		{Kind: IncidentExfiltration, Service: "fluentd", Replica: 1, Start: start, Factor: 20},
	}
	sim := mustNew(t, DefaultConfig(), incs, 1)
	idx := baselineIndex(t, sim)
	target := map[string]string{} // pod -> signal that must flag
	for _, in := range sim.Scenario(nil).Incidents {
		target[in.Pod] = map[string]string{IncidentExfiltration: "outbound:inbound", IncidentDownload: "inbound:outbound"}[in.Kind]
	}
	minZ := map[string]float64{}
	servedSpanRatios(t, sim, 0, 200, false, func(pod string, j int, inOut, outIn float64) {
		signal, ok := target[pod]
		if !ok || float64(j)*span.Seconds() < start {
			return // only spans wholly inside the incident
		}
		z1, z2 := zScores(idx["sim-cluster:"+DetectionService(pod)], inOut, outIn)
		z := map[string]float64{"inbound:outbound": z1, "outbound:inbound": z2}[signal]
		if old, seen := minZ[pod]; !seen || z < old {
			minZ[pod] = z
		}
	})
	for pod := range target {
		z, ok := minZ[pod]
		t.Logf("%s: lowest z during the incident %.1f", pod, z)
		if !ok || z < 40 {
			t.Errorf("%s: lowest z %.1f during a factor-20 incident, want far above 4", pod, z)
		}
	}
}

func TestBaselineIsDeterministicAndChecksArguments(t *testing.T) {
	a, _ := mustNew(t, DefaultConfig(), nil, 5).Baseline(300, span)
	b, _ := mustNew(t, DefaultConfig(), nil, 5).Baseline(300, span)
	var ba, bb bytes.Buffer
	_ = WriteBaselineCSV(&ba, a)
	_ = WriteBaselineCSV(&bb, b)
	if ba.String() != bb.String() {
		t.Fatal("same seed, different baselines")
	}
	sim := mustNew(t, DefaultConfig(), nil, 5)
	if _, err := sim.Baseline(1, span); err == nil {
		t.Error("1 span: want an error")
	}
	if _, err := sim.Baseline(10, 1500*time.Millisecond); err == nil {
		t.Error("fractional span: want an error")
	}
}
