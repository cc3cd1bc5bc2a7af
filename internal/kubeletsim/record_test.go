package kubeletsim

import (
	"bufio"
	"bytes"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// recordedPoint is one pod's network counters in one recorded line.
type recordedPoint struct {
	node, pod  string
	at, start  time.Time
	rx, tx     map[string]int64 // by interface
	cluster    string
	uid, podNS string
}

func readRecording(t *testing.T, data []byte) (lines int, points []recordedPoint) {
	t.Helper()
	var u pmetric.JSONUnmarshaler
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		lines++
		md, err := u.UnmarshalMetrics(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			attr := func(k string) string { v, _ := rm.Resource().Attributes().Get(k); return v.Str() }
			ms := rm.ScopeMetrics().At(0).Metrics()
			if ms.Len() != 1 || ms.At(0).Name() != "k8s.pod.network.io" || !ms.At(0).Sum().IsMonotonic() ||
				ms.At(0).Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
				t.Fatalf("line %d: want one cumulative monotonic k8s.pod.network.io sum per pod", lines)
			}
			rp := recordedPoint{node: attr("k8s.node.name"), pod: attr("k8s.pod.name"), cluster: attr("k8s.cluster.name"),
				uid: attr("k8s.pod.uid"), podNS: attr("k8s.namespace.name"), rx: map[string]int64{}, tx: map[string]int64{}}
			dps := ms.At(0).Sum().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				dp := dps.At(j)
				rp.at, rp.start = dp.Timestamp().AsTime(), dp.StartTimestamp().AsTime()
				ifc, _ := dp.Attributes().Get("interface")
				dir, _ := dp.Attributes().Get("direction")
				switch dir.Str() {
				case "receive":
					rp.rx[ifc.Str()] = dp.IntValue()
				case "transmit":
					rp.tx[ifc.Str()] = dp.IntValue()
				default:
					t.Fatalf("line %d: direction %q", lines, dir.Str())
				}
			}
			points = append(points, rp)
		}
	}
	return lines, points
}

// The recording is what the served Summary says at the scrape times, as kubeletstats and a
// resource processor would report it, and the same seed records the same bytes.
func TestRecordMatchesTheServedCounters(t *testing.T) {
	incs := []Incident{{Kind: IncidentExfiltration, Service: "booking", Start: 120, End: 240, Factor: 10}, {Kind: IncidentRestart, Service: "api", Start: 200}}
	rec := func(seed uint64, o RecordOptions) []byte {
		sim := mustNew(t, MixedConfig(), incs, seed)
		var buf bytes.Buffer
		n, err := sim.Record(&buf, o)
		if err != nil {
			t.Fatal(err)
		}
		if want := 2 * 30; n != want { // 2 nodes, 300 s / 10 s
			t.Fatalf("%d lines, want %d", n, want)
		}
		return buf.Bytes()
	}
	o := RecordOptions{Duration: 300 * time.Second, Interval: 10 * time.Second}
	data := rec(1, o)
	if !bytes.Equal(data, rec(1, o)) {
		t.Fatal("the same seed recorded different bytes")
	}
	if bytes.Equal(data, rec(2, o)) {
		t.Fatal("another seed recorded the same bytes")
	}

	lines, points := readRecording(t, data)
	ref := mustNew(t, MixedConfig(), incs, 1)
	sc := ref.Scenario(nil)
	if lines != 60 || len(points) != 60/2*len(sc.Pods) {
		t.Fatalf("%d lines, %d pod points; want 60 and %d", lines, len(points), 30*len(sc.Pods))
	}
	pods := map[string]ScenarioPod{}
	for _, p := range sc.Pods {
		pods[p.Name] = p
	}
	var prev time.Time
	for i, rp := range points {
		p, ok := pods[rp.pod]
		if !ok || rp.node != p.Node || rp.cluster != "sim-cluster" || rp.uid != p.UID || rp.podNS != p.Namespace ||
			len(rp.rx) != len(p.Interfaces) || formatTime(rp.start) != p.StartTime {
			t.Fatalf("point %d: %+v does not match pod %+v", i, rp, p)
		}
		if rp.at.Before(prev) || !rp.at.Before(ref.Start().Add(300*time.Second)) {
			t.Fatalf("point %d at %v: want data-time order within the recording (previous %v)", i, rp.at, prev)
		}
		prev = rp.at
		// Check against the served Summary at the same wall time.
		sum, err := ref.Summary(rp.node, rp.at)
		if err != nil {
			t.Fatal(err)
		}
		for _, ps := range sum.Pods {
			if ps.PodRef.Name != rp.pod {
				continue
			}
			for _, in := range ps.Network.Interfaces {
				if rp.rx[in.Name] != int64(*in.RxBytes) || rp.tx[in.Name] != int64(*in.TxBytes) {
					t.Fatalf("point %d %s/%s: recorded %d/%d, served %d/%d", i, rp.pod, in.Name, rp.rx[in.Name], rp.tx[in.Name], *in.RxBytes, *in.TxBytes)
				}
			}
		}
	}

	// Without collect_all_network_interfaces only the default interface is reported.
	_, points = readRecording(t, rec(1, RecordOptions{Duration: 300 * time.Second, Interval: 10 * time.Second, DefaultInterfaceOnly: true}))
	for _, rp := range points {
		if want := pods[rp.pod].Interfaces[0]; len(rp.rx) != 1 || rp.rx[want] == 0 {
			t.Fatalf("%s: interfaces %v, want only %s", rp.pod, rp.rx, want)
		}
	}
}

func TestRecordRejectsBadOptions(t *testing.T) {
	sim := mustNew(t, DefaultConfig(), nil, 1)
	for _, o := range []RecordOptions{
		{Duration: time.Minute, Interval: 0},
		{Duration: time.Minute, Interval: 1500 * time.Microsecond},
		{Duration: time.Second, Interval: 10 * time.Second},
	} {
		if _, err := sim.Record(&bytes.Buffer{}, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// Scrapes land just after whole intervals, so one-minute scrapes from a whole minute see
// the idle minutes whole, at their rate and depth, as the measured one-minute samples did.
func TestRecordOneMinuteScrapesSeeIdleMinutes(t *testing.T) {
	cfg := railOnly(1)
	for _, s := range cfg.Services {
		if s.Name == "booking" { // idle probability 0.08
			cfg.Services = []ServiceConfig{s}
		}
	}
	sim, err := New(cfg, nil, 6, testStart.Truncate(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	const minutes = 3000
	if _, err := sim.Record(&buf, RecordOptions{Duration: minutes * time.Minute, Interval: time.Minute}); err != nil {
		t.Fatal(err)
	}
	_, points := readRecording(t, buf.Bytes())
	var rx, tx []float64
	for i := 1; i < len(points); i++ {
		a, b := points[i-1], points[i]
		dt := b.at.Sub(a.at).Seconds()
		rx = append(rx, float64(b.rx["eth0"]-a.rx["eth0"])/dt)
		tx = append(tx, float64(b.tx["eth0"]-a.tx["eth0"])/dt)
	}
	mtx := median(tx)
	var idleTx []float64
	for i := range tx {
		if tx[i] < 0.1*mtx {
			idleTx = append(idleTx, tx[i]/mtx)
		}
	}
	rate := float64(len(idleTx)) / float64(len(tx))
	if lo, hi := binomialBand(0.08, len(tx)); rate < lo || rate > hi {
		t.Errorf("idle one-minute samples %.4f, want 0.08 (%.4f..%.4f)", rate, lo, hi)
	}
	if m := median(idleTx); m > 0.025 {
		t.Errorf("median outbound of an idle sample %.4f of usual, want about 0.015", m)
	}
	if sd := logRatioStdev(rx, tx); sd < 0.8 || sd > 1.5 {
		t.Errorf("stdev of ln(out/in) per one-minute sample %.3f, want 0.8..1.5", sd)
	}
}
