package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// spanSums reduces observed spans to "start -> [in, out]" for one pod, failing on a span that
// lacks a direction.
func spanSums(t *testing.T, spans []observedSpan) map[int64][2]float64 {
	t.Helper()
	out := map[int64][2]float64{}
	for _, s := range spans {
		if !s.hasIn || !s.hasOut {
			t.Errorf("span %d: hasIn=%v hasOut=%v, want both", s.sec, s.hasIn, s.hasOut)
		}
		if _, dup := out[s.sec]; dup {
			t.Errorf("span %d observed twice", s.sec)
		}
		out[s.sec] = [2]float64{s.in, s.out}
	}
	return out
}

// TestFirstScrapeSurvivesSweep uses the default pod_expiry (10 min) with realistic timestamps:
// a pod's priming scrape followed by two more scrapes 10 s apart must give one scored span
// [10,20) with in = 300, out = 100 (span [20,30) stays open). Regression test: a priming point
// used not to set the pod's lastSeen, so with epoch timestamps the first sweep forgot every new
// pod right after its priming scrape and nothing was ever scored.
func TestFirstScrapeSurvivesSweep(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Limits.PodExpiry = 10 * time.Minute })
	h.spans(webPod, 5, 2, 300, 100)
	got := spanSums(t, h.obs.ofPod(webPod.name))
	want := map[int64][2]float64{10: {300, 100}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("spans = %v, want %v (a pod must not be forgotten between its priming scrape and its next one)", got, want)
	}
}

// TestCounterReset follows one pod's cumulative counters by hand (eth0, rx and tx):
//
//	t0+5   rx 1000 tx 1000   primes
//	t0+15  rx 1100 tx 1010   span 10: in 100, out 10
//	t0+25  rx   50 tx 1020   rx dropped: reset, the increase is the new value: span 20: in 50, out 10
//	t0+35  rx 2000 tx 1030   rx start timestamp changed: reset: span 30: in 2000 (not 1950), out 10
//	t0+45  rx 2100 tx 1040   same start as before: span 40: in 100, out 10 (closed by Flush)
func TestCounterReset(t *testing.T) {
	h := newHarness(t, ratioCSV)
	restart := tsAt(30)
	rx := func(sec, v int64) point { return ip("eth0", "receive", sec, v) }
	tx := func(sec, v int64) point { return ip("eth0", "transmit", sec, v) }
	h.consume(newMD().add(webPod, cumulativeSum, rx(5, 1000), tx(5, 1000)).md)
	h.consume(newMD().add(webPod, cumulativeSum, rx(15, 1100), tx(15, 1010)).md)
	h.consume(newMD().add(webPod, cumulativeSum, rx(25, 50), tx(25, 1020)).md)
	p := rx(35, 2000)
	p.start = restart
	h.consume(newMD().add(webPod, cumulativeSum, p, tx(35, 1030)).md)
	p = rx(45, 2100)
	p.start = restart
	h.consume(newMD().add(webPod, cumulativeSum, p, tx(45, 1040)).md)
	h.e.Flush(context.Background())
	got := spanSums(t, h.obs.ofPod(webPod.name))
	want := map[int64][2]float64{10: {100, 10}, 20: {50, 10}, 30: {2000, 10}, 40: {100, 10}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("spans = %v, want %v", got, want)
	}
}

// TestFirstPointOnlyPrimes: a pod with a single scrape is never scored, even when its counters
// are huge; a series (eth1) that appears later primes on its first point and adds nothing then.
func TestFirstPointOnlyPrimes(t *testing.T) {
	h := newHarness(t, ratioCSV, immediateAny)
	h.consume(newMD().add(webPod2, cumulativeSum,
		ip("eth0", "receive", 15, 9_000_000), ip("eth0", "transmit", 15, 1)).md)
	// webPod: eth0 primes at 5, grows by 300/100 at 15; eth1 appears at 15 with 5000/0 bytes
	// already counted: it only primes. Span 10 is in 300, out 100.
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 5, 1000), ip("eth0", "transmit", 5, 1000)).md)
	h.consume(newMD().add(webPod, cumulativeSum,
		ip("eth0", "receive", 15, 1300), ip("eth0", "transmit", 15, 1100),
		ip("eth1", "receive", 15, 5000), ip("eth1", "transmit", 15, 0)).md)
	h.e.Flush(context.Background())
	if s := h.obs.ofPod(webPod2.name); len(s) != 0 {
		t.Errorf("single-scrape pod observed: %+v", s)
	}
	got := spanSums(t, h.obs.ofPod(webPod.name))
	if want := map[int64][2]float64{10: {300, 100}}; !reflect.DeepEqual(got, want) {
		t.Errorf("spans = %v, want %v", got, want)
	}
	for _, ev := range h.takeEvents() {
		if ev.Pod == webPod2.name {
			t.Errorf("event for the single-scrape pod: %s", describeEvents([]Event{ev}))
		}
	}
}

// TestPodRestartNewUID: a statefulset pod web-0 is replaced by a new pod (new uid, same name).
// The new pod starts fresh series (its first point only primes, no span 40), and both pods count
// into the same (cluster, node, pod name, namespace, service) group: 3 + 3 anomalous spans = 6 > 5.
//
// Timeline (in=300, out=100 per scrape, so every span flags with webText3's numbers):
// uid-a primes at 5, spans 10, 20, 30; uid-b primes at 45, spans 50, 60, 70; a scrape at 85
// closes 70. Scoring order: 10 (at 25), 20 (at 35), 50 (at 65), 60 (at 75), 30 (sweep at 75:
// watermark 75-30 = 45 passes 40), 70 (at 85): the sixth is span 70, so the immediate event has
// time t0+70.
func TestPodRestartNewUID(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Mode = ModeImmediate })
	a := podRes{uid: "uid-a", name: "web-0", namespace: "default", cluster: "prod", node: "node-1"}
	b := a
	b.uid = "uid-b"
	h.spans(a, 5, 3, 300, 100)
	h.spans(b, 45, 3, 300, 100)
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Fatalf("event before the sixth span: %s", describeEvents(evs))
	}
	h.feed(85, traffic{b, 0, 0})
	ev := mustOneEvent(t, h.takeEvents())
	if ev.Pod != "web-0" || ev.Service != "web-0" || ev.Count != 6 || !ev.Time.Equal(timeAt(70)) {
		t.Errorf("event = %s, want web-0 count 6 at t0+70", describeEvents([]Event{ev}))
	}
	var starts []int64
	for _, s := range h.obs.ofPod("web-0") {
		starts = append(starts, s.sec)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	if want := []int64{10, 20, 30, 50, 60, 70}; !reflect.DeepEqual(starts, want) {
		t.Errorf("observed spans %v, want %v (the new pod's first point must only prime)", starts, want)
	}
}

// TestTwoInterfacesSummed: eth0 rx +100, eth1 rx +200, eth0 tx +10, eth1 tx +40 in span 10:
// in = 300, out = 50.
func TestTwoInterfacesSummed(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.consume(newMD().add(webPod, cumulativeSum,
		ip("eth0", "receive", 5, 1000), ip("eth0", "transmit", 5, 1000),
		ip("eth1", "receive", 5, 5000), ip("eth1", "transmit", 5, 5000)).md)
	h.consume(newMD().add(webPod, cumulativeSum,
		ip("eth0", "receive", 15, 1100), ip("eth0", "transmit", 15, 1010),
		ip("eth1", "receive", 15, 5200), ip("eth1", "transmit", 15, 5040)).md)
	h.e.Flush(context.Background())
	got := spanSums(t, h.obs.ofPod(webPod.name))
	if want := map[int64][2]float64{10: {300, 50}}; !reflect.DeepEqual(got, want) {
		t.Errorf("spans = %v, want %v", got, want)
	}
}

// TestMissingDirection: in span 10 only the receive counter reports (an anomalous-looking
// inbound of 300 with no outbound): not scored, not counted in spans_scored, no event.
// Span 20 has both (tx grew 100 since t0+5) and is scored.
func TestMissingDirection(t *testing.T) {
	h := newHarness(t, ratioCSV, immediateAny)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 5, 1000), ip("eth0", "transmit", 5, 1000)).md)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 15, 1300)).md)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 25, 1350), ip("eth0", "transmit", 25, 1100)).md)
	spans := h.obs.ofPod(webPod.name)
	if len(spans) != 1 || spans[0].sec != 10 || !spans[0].hasIn || spans[0].hasOut || spans[0].in != 300 {
		t.Fatalf("observed %+v, want span 10 with in 300 and no outbound", spans)
	}
	if n := h.counter("spans_scored", ""); n != 0 {
		t.Errorf("spans_scored = %d, want 0 for a span without outbound", n)
	}
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Errorf("span without outbound flagged: %s", describeEvents(evs))
	}
	// Another scrape of the pod (no growth) closes span 20: in 50 (1300 -> 1350), out 100 (1000 -> 1100).
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 35, 1350), ip("eth0", "transmit", 35, 1100)).md)
	if n := h.counter("spans_scored", ""); n != 1 {
		t.Errorf("spans_scored = %d, want 1 after span 20 (in 50, out 100) closed", n)
	}
}

// TestGaugeAveraged: gauge points are per-span values already: rx 100 at t0+11 and 300 at
// t0+15 average to 200; eth1 rx 1000 adds (summed over interfaces): in = 1200; tx 50: out = 50.
// Gauges do not prime: the first point counts.
func TestGaugeAveraged(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.consume(newMD().add(webPod, gaugeMetric,
		fp("eth0", "receive", 11, 100), fp("eth0", "transmit", 12, 50), fp("eth1", "receive", 13, 1000)).md)
	h.consume(newMD().add(webPod, gaugeMetric, fp("eth0", "receive", 15, 300)).md)
	h.e.Flush(context.Background())
	got := spanSums(t, h.obs.ofPod(webPod.name))
	if want := map[int64][2]float64{10: {1200, 50}}; !reflect.DeepEqual(got, want) {
		t.Errorf("spans = %v, want %v", got, want)
	}
}

// TestDeltaSum: delta points are increases already and do not prime: rx 100 + 50, tx 30.
func TestDeltaSum(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.consume(newMD().add(webPod, deltaSum, ip("eth0", "receive", 11, 100), ip("eth0", "transmit", 12, 30)).md)
	h.consume(newMD().add(webPod, deltaSum, ip("eth0", "receive", 15, 50)).md)
	h.e.Flush(context.Background())
	got := spanSums(t, h.obs.ofPod(webPod.name))
	if want := map[int64][2]float64{10: {150, 30}}; !reflect.DeepEqual(got, want) {
		t.Errorf("spans = %v, want %v", got, want)
	}
}

// TestMixedKindsOneInterface: a sender that reports eth0 receive as a counter and also as a gauge
// and as deltas gets one series per kind, each read by its own rule and summed like interfaces:
// counter 1000 -> 1100 (+100), gauge 40, delta 7: in = 147. A gauge point between two counter
// points must not break the counter's increase (the counter is not reset by it).
func TestMixedKindsOneInterface(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 5, 1000), ip("eth0", "transmit", 5, 500)).md)
	h.consume(newMD().add(webPod, gaugeMetric, fp("eth0", "receive", 12, 40)).md)
	h.consume(newMD().add(webPod, deltaSum, ip("eth0", "receive", 13, 7)).md)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 15, 1100), ip("eth0", "transmit", 15, 530)).md)
	h.e.Flush(context.Background())
	got := spanSums(t, h.obs.ofPod(webPod.name))
	if want := map[int64][2]float64{10: {147, 30}}; !reflect.DeepEqual(got, want) {
		t.Errorf("spans = %v, want %v", got, want)
	}
}

// TestDoubleCumulative: double counters: rx 1000.5 -> 1100.75 = 100.25; tx 10.25 -> 20.5 = 10.25.
func TestDoubleCumulative(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.consume(newMD().add(webPod, cumulativeSum, fp("eth0", "receive", 5, 1000.5), fp("eth0", "transmit", 5, 10.25)).md)
	h.consume(newMD().add(webPod, cumulativeSum, fp("eth0", "receive", 15, 1100.75), fp("eth0", "transmit", 15, 20.5)).md)
	h.e.Flush(context.Background())
	got := spanSums(t, h.obs.ofPod(webPod.name))
	if want := map[int64][2]float64{10: {100.25, 10.25}}; !reflect.DeepEqual(got, want) {
		t.Errorf("spans = %v, want %v", got, want)
	}
}

// TestSeveralIncreasesInOneSpan: two scrapes in one span add up: +100 at t0+12 and +50 at
// t0+17 (both in span 10): in = 150, out = 30.
func TestSeveralIncreasesInOneSpan(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 7, 1000), ip("eth0", "transmit", 7, 1000)).md)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 12, 1100), ip("eth0", "transmit", 12, 1010)).md)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 17, 1150), ip("eth0", "transmit", 17, 1030)).md)
	h.e.Flush(context.Background())
	got := spanSums(t, h.obs.ofPod(webPod.name))
	// The priming point at 7 is in span 0 but contributes nothing: span 0 has no data at all.
	if want := map[int64][2]float64{10: {150, 30}}; !reflect.DeepEqual(got, want) {
		t.Errorf("spans = %v, want %v", got, want)
	}
}

// TestUnusablePoints: one batch mixing usable and unusable points. By hand:
//   - a resource without k8s.pod.name, 2 points                      -> no_pod_name 2
//   - webPod: rx/tx priming points                                     -> used 2
//     direction "sideways" and no direction attribute                  -> unknown_direction 2
//     NaN, +Inf, -Inf double values                                    -> not_finite 3
//   - fluentdPod delta sum: rx -10                                     -> negative 1; tx 10 -> used 1
//   - webPod2: a histogram named k8s.pod.network.io, 2 points          -> unsupported_type 2
//   - every resource's k8s.pod.cpu.usage gauge point                   -> not looked at
//
// The batch itself must be unchanged.
func TestUnusablePoints(t *testing.T) {
	h := newHarness(t, ratioCSV)
	noName := podRes{uid: "uid-x", namespace: "default", cluster: "prod", node: "node-1"}
	md := newMD().
		add(noName, cumulativeSum, ip("eth0", "receive", 5, 100), ip("eth0", "transmit", 5, 100)).
		add(webPod, cumulativeSum,
			ip("eth0", "receive", 5, 1000), ip("eth0", "transmit", 5, 1000),
			ip("eth0", "sideways", 5, 1), ip("eth0", "", 5, 1),
			fp("eth1", "receive", 5, math.NaN()), fp("eth1", "transmit", 5, math.Inf(1)), fp("eth2", "receive", 5, math.Inf(-1))).
		add(fluentdPod, deltaSum, ip("eth0", "receive", 5, -10), ip("eth0", "transmit", 5, 10)).
		add(webPod2, histogramMetric, point{dir: "receive", sec: 5, i: 1}, point{dir: "transmit", sec: 5, i: 1}).md
	before := marshal(t, md)
	h.consume(md)
	if after := marshal(t, md); after != before {
		t.Error("ConsumeMetrics modified the batch")
	}
	want := map[string]int64{"no_pod_name": 2, "unknown_direction": 2, "not_finite": 3, "negative": 1, "unsupported_type": 2}
	if got := h.drops(); !reflect.DeepEqual(got, want) {
		t.Errorf("dropped = %v, want %v", got, want)
	}
	if got := h.counter("datapoints_used", ""); got != 3 {
		t.Errorf("datapoints_used = %d, want 3", got)
	}
}

func marshal(t *testing.T, md pmetric.Metrics) string {
	t.Helper()
	b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOtherMetricsIgnored: a batch holding only other metrics is not looked at and moves nothing.
func TestOtherMetricsIgnored(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.consume(newMD().addNamed(webPod, "k8s.pod.network.errors", cumulativeSum,
		ip("eth0", "receive", 5, 1), ip("eth0", "transmit", 5, 1)).md)
	if got := h.counter("datapoints_used", ""); got != 0 {
		t.Errorf("datapoints_used = %d, want 0", got)
	}
	if got := h.drops(); len(got) != 0 {
		t.Errorf("dropped = %v, want none", got)
	}
	if n := h.e.pods.len(); n != 0 {
		t.Errorf("%d pods tracked from another metric", n)
	}
}

// TestMetricNameConfigured: with metric "my.net.io", points of that name are read and
// k8s.pod.network.io is ignored.
func TestMetricNameConfigured(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Metric = "my.net.io" })
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 5, 1), ip("eth0", "transmit", 5, 1)).md)
	h.consume(newMD().addNamed(webPod, "my.net.io", cumulativeSum, ip("eth0", "receive", 5, 1), ip("eth0", "transmit", 5, 1)).md)
	if got := h.counter("datapoints_used", ""); got != 2 {
		t.Errorf("datapoints_used = %d, want 2", got)
	}
}

// TestDirectionConfigured: custom attribute and values: attribute "dir", in = "rx", out = "tx".
func TestDirectionConfigured(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) {
		c.Direction = DirectionConfig{Attribute: "dir", Inbound: "rx", Outbound: "tx"}
	})
	mk := func(sec, rx, tx int64) pmetric.Metrics {
		md := newMD().add(webPod, cumulativeSum, ip("eth0", "", sec, rx), ip("eth0", "", sec, tx)).md
		dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).Sum().DataPoints()
		dps.At(0).Attributes().PutStr("dir", "rx")
		dps.At(1).Attributes().PutStr("dir", "tx")
		return md
	}
	h.consume(mk(5, 1000, 1000))
	h.consume(mk(15, 1300, 1100))
	h.e.Flush(context.Background())
	got := spanSums(t, h.obs.ofPod(webPod.name))
	if want := map[int64][2]float64{10: {300, 100}}; !reflect.DeepEqual(got, want) {
		t.Errorf("spans = %v, want %v", got, want)
	}
}

// TestClusterNodeFallbacks: cluster from the resource or cluster_name; node from k8s.node.name,
// else host.name, else node_name. The cluster decides the baseline key (fallback:web is in the
// file), and the node is the event's host.
func TestClusterNodeFallbacks(t *testing.T) {
	csv := ratioCSV + "fallback:web,0.5,2,0.125,0.5,1,1\n"
	tests := []struct {
		name                  string
		res                   podRes
		wantCluster, wantHost string
	}{
		{"all on the resource", podRes{uid: "u1", name: "web-7c5ddbdf54-x8f2k", namespace: "default", cluster: "prod", node: "node-1", hostName: "host-1"}, "prod", "node-1"},
		{"cluster from cluster_name", podRes{uid: "u1", name: "web-7c5ddbdf54-x8f2k", namespace: "default", node: "node-1"}, "fallback", "node-1"},
		{"node from host.name", podRes{uid: "u1", name: "web-7c5ddbdf54-x8f2k", namespace: "default", cluster: "prod", hostName: "host-1"}, "prod", "host-1"},
		{"node from node_name", podRes{uid: "u1", name: "web-7c5ddbdf54-x8f2k", namespace: "default", cluster: "prod"}, "prod", "cfg-node"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, csv, immediateAny, func(c *Config) { c.ClusterName, c.NodeName = "fallback", "cfg-node" })
			h.spans(tc.res, 5, 2, 300, 100)
			ev := mustOneEvent(t, h.takeEvents())
			if ev.Cluster != tc.wantCluster || ev.Node != tc.wantHost {
				t.Errorf("cluster/host = %s/%s, want %s/%s", ev.Cluster, ev.Node, tc.wantCluster, tc.wantHost)
			}
		})
	}
}

// TestClusterNodeMissing: without the attributes and without fallbacks the points are dropped
// (2 points each) and counted by reason.
func TestClusterNodeMissing(t *testing.T) {
	h := newHarness(t, ratioCSV)
	noCluster := podRes{uid: "u1", name: "web-7c5ddbdf54-x8f2k", namespace: "default", node: "node-1"}
	noNode := podRes{uid: "u2", name: "web-7c5ddbdf54-q9z7m", namespace: "default", cluster: "prod"}
	h.consume(newMD().
		add(noCluster, cumulativeSum, ip("eth0", "receive", 5, 1), ip("eth0", "transmit", 5, 1)).
		add(noNode, cumulativeSum, ip("eth0", "receive", 5, 1), ip("eth0", "transmit", 5, 1)).md)
	want := map[string]int64{"no_cluster": 2, "no_node": 2}
	if got := h.drops(); !reflect.DeepEqual(got, want) {
		t.Errorf("dropped = %v, want %v", got, want)
	}
}

// TestPodLimit: max_pods 2, three pods in one batch: the third pod's 2 points are dropped as
// pod_limit, and again in the next batch; the first two still score.
func TestPodLimit(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Limits.MaxPods = 2 })
	third := podRes{uid: "uid-3", name: "api-5d4f8c7b9-q2w3e", namespace: "default", cluster: "prod", node: "node-3"}
	h.feed(5, traffic{webPod, 0, 0}, traffic{webPod2, 0, 0}, traffic{third, 0, 0})
	h.feed(15, traffic{webPod, 300, 100}, traffic{webPod2, 300, 100}, traffic{third, 300, 100})
	h.e.Flush(context.Background())
	if got := h.drops(); !reflect.DeepEqual(got, map[string]int64{"pod_limit": 4}) {
		t.Errorf("dropped = %v, want pod_limit 4", got)
	}
	if n, _ := h.gauge("pods_tracked"); n != 2 {
		t.Errorf("pods_tracked = %d, want 2", n)
	}
	if len(h.obs.ofPod(webPod.name)) != 1 || len(h.obs.ofPod(webPod2.name)) != 1 || len(h.obs.ofPod(third.name)) != 0 {
		t.Errorf("observed %+v, want one span each for the first two pods only", h.obs.all())
	}
}

// TestPodExpiry: pod_expiry 60 s, lateness 30 s. webPod scrapes at 5 (prime), 15, 25, then
// stops; fluentdPod keeps scraping every 10 s and moves data time on. webPod's last point is at
// 25 (span 20 scored once the watermark passes 30). It is forgotten once
// lastSeen 25 < swept - 60, i.e. swept >= 90, i.e. watermark >= 90, at the
// scrape at 120+ (here 125). Then a point at 135 only primes again, so there is no span 130 for
// webPod; the point at 145 gives span 140 = (145 - 135 increase) = 300/100.
func TestPodExpiry(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Limits.PodExpiry, c.Lateness = time.Minute, 30*time.Second })
	h.feed(5, traffic{webPod, 0, 0}, traffic{fluentdPod, 0, 0})
	h.feed(15, traffic{webPod, 300, 100}, traffic{fluentdPod, 1, 1})
	h.feed(25, traffic{webPod, 300, 100}, traffic{fluentdPod, 1, 1})
	tracked := func() int {
		h.e.mu.Lock()
		defer h.e.mu.Unlock()
		return h.e.pods.len()
	}
	for sec := int64(35); sec <= 115; sec += 10 {
		h.feed(sec, traffic{fluentdPod, 1, 1})
	}
	if n := tracked(); n != 2 {
		t.Errorf("after t0+115: %d pods tracked, want 2 (webPod not idle for 60 s past its last span yet)", n)
	}
	h.feed(125, traffic{fluentdPod, 1, 1})
	if n := tracked(); n != 1 {
		t.Errorf("after t0+125: %d pods tracked, want 1 (webPod expired)", n)
	}
	if n, _ := h.gauge("pods_tracked"); n != 1 {
		t.Errorf("pods_tracked = %d, want 1", n)
	}
	h.feed(135, traffic{webPod, 300, 100}, traffic{fluentdPod, 1, 1})
	h.feed(145, traffic{webPod, 300, 100}, traffic{fluentdPod, 1, 1})
	h.e.Flush(context.Background())
	got := spanSums(t, h.obs.ofPod(webPod.name))
	want := map[int64][2]float64{10: {300, 100}, 20: {300, 100}, 140: {300, 100}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("webPod spans = %v, want %v", got, want)
	}
}

// TestExclusions: the filter macro, with learn.exclude so that excluded pods are not learned
// from either. Rules: namespace kube-system; pod ^debug-; service ^fluentd$; namespace monitoring
// AND service prometheus; cluster staging; node ^gpu-.
func TestExclusions(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) {
		c.Learn.Exclude = true
		c.Exclude = []ExcludeRule{
			{Namespace: "^kube-system$"},
			{Pod: "^debug-"},
			{Service: "^fluentd$"},
			{Namespace: "^monitoring$", Service: "^prometheus$"},
			{Cluster: "^staging$"},
			{Node: "^gpu-"},
		}
	})
	pod := func(uid, name, ns, cluster, node string) podRes {
		return podRes{uid: uid, name: name, namespace: ns, cluster: cluster, node: node}
	}
	excluded := []podRes{
		pod("a", "kube-proxy-abcde", "kube-system", "prod", "node-1"),
		pod("b", "debug-shell-x1y2z", "default", "prod", "node-1"),
		pod("c", "fluentd-x8f2k", "logging", "prod", "node-1"),
		pod("d", "prometheus-5d4f8c7b9-q2w3e", "monitoring", "prod", "node-1"),
		pod("g", "web-7c5ddbdf54-aaaaa", "default", "prod", "gpu-1"),
		pod("i", "web-7c5ddbdf54-bbbbb", "default", "staging", "node-1"),
	}
	kept := []podRes{
		pod("e", "prometheus-5d4f8c7b9-abcde", "default", "prod", "node-1"), // service matches, namespace does not
		pod("f", "grafana-5d4f8c7b9-abcde", "monitoring", "prod", "node-1"), // namespace matches, service does not
		pod("h", "web-7c5ddbdf54-x8f2k", "default", "prod", "node-1"),
	}
	for _, sec := range []int64{5, 15} {
		var tr []traffic
		for _, p := range append(append([]podRes(nil), excluded...), kept...) {
			tr = append(tr, traffic{p, 300, 100})
		}
		h.feed(sec, tr...)
	}
	h.e.Flush(context.Background())
	// 6 excluded pods x 2 points x 2 scrapes; 3 kept pods x 2 points x 2 scrapes used.
	if got := h.drops(); !reflect.DeepEqual(got, map[string]int64{"excluded": 24}) {
		t.Errorf("dropped = %v, want excluded 24", got)
	}
	if got := h.counter("datapoints_used", ""); got != 12 {
		t.Errorf("datapoints_used = %d, want 12", got)
	}
	seen := map[string]bool{}
	for _, s := range h.obs.all() {
		seen[s.pod] = true
	}
	for _, p := range excluded {
		if seen[p.namespace+"/"+p.name] {
			t.Errorf("excluded pod %s/%s/%s on %s was scored", p.cluster, p.namespace, p.name, p.node)
		}
	}
	for _, p := range kept {
		if !seen[p.namespace+"/"+p.name] {
			t.Errorf("pod %s/%s was excluded", p.namespace, p.name)
		}
	}
}

// TestExcludedPodsDoNotCrowdOutScoredPods: the filter drops excluded pods before scoring, so
// with max_pods 2 an excluded kube-system pod must not take one of the two slots that the two
// scored web pods need: no point may be dropped as pod_limit and both web pods are scored.
// (Today an excluded pod is stored like any other pod, takes a slot, never gets a lastSeen, so
// every sweep forgets it and the next scrape re-creates it and re-runs the patterns.)
func TestExcludedPodsDoNotCrowdOutScoredPods(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) {
		c.Exclude = []ExcludeRule{{Namespace: "^kube-system$"}}
		c.Limits.MaxPods = 2
		c.Learn.Exclude = true
	})
	ks := podRes{uid: "uid-ks", name: "kube-proxy-abcde", namespace: "kube-system", cluster: "prod", node: "node-1"}
	for _, sec := range []int64{5, 15, 25} {
		h.feed(sec, traffic{ks, 1, 1}, traffic{webPod, 300, 100}, traffic{webPod2, 300, 100})
	}
	if got := h.drops(); !reflect.DeepEqual(got, map[string]int64{"excluded": 6}) {
		t.Errorf("dropped = %v, want only excluded 6 (3 scrapes x 2 points)", got)
	}
	if len(h.obs.ofPod(webPod.name)) != 1 || len(h.obs.ofPod(webPod2.name)) != 1 {
		t.Errorf("observed %+v, want span 10 of both web pods", h.obs.all())
	}
}

// TestObserverTellsSameNamedPodsApart: postgres-0 in two namespaces share a key, and the
// learner must see two pods, not one with double the bytes.
func TestObserverTellsSameNamedPodsApart(t *testing.T) {
	h := newHarness(t, ratioCSV)
	shop := podRes{uid: "u-shop", name: "postgres-0", namespace: "shop", cluster: "prod", node: "node-1"}
	staging := podRes{uid: "u-staging", name: "postgres-0", namespace: "staging", cluster: "prod", node: "node-1"}
	h.feed(5, traffic{shop, 0, 0}, traffic{staging, 0, 0})
	h.feed(15, traffic{shop, 300, 100}, traffic{staging, 300, 100})
	h.feed(25, traffic{shop, 300, 100}, traffic{staging, 300, 100})
	refs := map[string]bool{}
	for _, s := range h.obs.all() {
		if s.sec == 10 {
			refs[s.pod] = true
		}
	}
	if !refs["shop/postgres-0"] || !refs["staging/postgres-0"] || len(refs) != 2 {
		t.Fatalf("span 10 observed for %v, want shop/postgres-0 and staging/postgres-0", refs)
	}
}

// TestExcludedPodsStillLearned: exclusions are the detection's filter macro; the baseline search
// has none, so without learn.exclude an excluded pod's spans still reach the learner, but it is
// never scored and never makes an event, however anomalous.
func TestExcludedPodsStillLearned(t *testing.T) {
	h := newHarness(t, ratioCSV, immediateAny, func(c *Config) { c.Exclude = []ExcludeRule{{Pod: "^web-"}} })
	h.spans(webPod, 5, 3, 300, 100) // 3:1 flags against ratioCSV
	h.e.Flush(context.Background())
	if got := spanSums(t, h.obs.ofPod(webPod.name)); !reflect.DeepEqual(got, map[int64][2]float64{10: {300, 100}, 20: {300, 100}, 30: {300, 100}}) {
		t.Errorf("learner saw %v, want spans 10, 20, 30 of the excluded pod", got)
	}
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Errorf("excluded pod made events: %s", describeEvents(evs))
	}
	if n := h.counter("spans_scored", ""); n != 0 {
		t.Errorf("spans_scored = %d, want 0", n)
	}
	if got := h.drops(); !reflect.DeepEqual(got, map[string]int64{"excluded": 8}) {
		t.Errorf("dropped = %v, want excluded 8 (4 scrapes x 2 points, dropped from the detection)", got)
	}
}

// TestRatesCoverTheScrapeInterval: rates are bytes per second over the time a span's increases
// cover, so a pod scraped every 60 s (600 in, 300 out per scrape) and one scraped every 10 s
// (100 in, 50 out) both run at 10 and 5 B/s, although the first has 6x the bytes in its spans.
func TestRatesCoverTheScrapeInterval(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.feed(5, traffic{webPod, 0, 0}, traffic{fluentdPod, 0, 0})
	for sec := int64(15); sec <= 125; sec += 10 {
		tr := []traffic{{fluentdPod, 100, 50}}
		if (sec-5)%60 == 0 {
			tr = append(tr, traffic{webPod, 600, 300})
		}
		h.feed(sec, tr...)
	}
	h.e.Flush(context.Background())
	h.obs.mu.Lock()
	defer h.obs.mu.Unlock()
	var web, fluentd int
	for _, r := range h.obs.rates {
		if r.inBps != 10 || r.outBps != 5 {
			t.Errorf("%s span %d: %v and %v B/s over %v s, want 10 and 5", r.pod, r.sec, r.inBps, r.outBps, r.coveredSec)
		}
		switch r.pod {
		case "default/" + webPod.name:
			web++
			if r.coveredSec != 60 {
				t.Errorf("web span %d covers %v s, want 60", r.sec, r.coveredSec)
			}
		case "logging/" + fluentdPod.name:
			fluentd++
		}
	}
	if web != 2 || fluentd != 12 {
		t.Errorf("%d web and %d fluentd spans with rates, want 2 and 12", web, fluentd)
	}
}

// canonicalPods are n pods of a Deployment on node-<node>, with uids as Kubernetes writes them
// (kept by their bytes in the pod table).
func canonicalPods(node, n int) []podRes {
	pods := make([]podRes, n)
	for i := range pods {
		pods[i] = podRes{uid: fmt.Sprintf("6f1c2b3a-9d4e-4f5a-8b6c-%04x%08x", node, i), name: "web-7c5ddbdf54-" + podSuffix(i),
			namespace: "default", cluster: "prod", node: fmt.Sprintf("node-%d", node)}
	}
	return pods
}

// checkPodLists checks what findPod relies on: every pod in a source's list is indexed and knows
// its place there, and the index holds no other pod.
func checkPodLists(t *testing.T, e *Engine) {
	t.Helper()
	n := 0
	for name, src := range e.sources {
		for i, p := range src.pods {
			if int(p.at) != i || p.src != src || !e.pods.has(p) {
				t.Fatalf("node %s: pod %s at %d says it is at %d (its source's: %v, indexed: %v)", name, p.ref, i, p.at, p.src == src, e.pods.has(p))
			}
		}
		n += len(src.pods)
	}
	if n != e.pods.len() {
		t.Fatalf("%d pods in the sources' lists, %d indexed", n, e.pods.len())
	}
}

// TestFindPodTriesTheNextPodFirst: the pod after the last one found in its node's list is taken
// without the pod table; any other uid is still looked up there.
func TestFindPodTriesTheNextPodFirst(t *testing.T) {
	h := newHarness(t, ratioCSV)
	pods := canonicalPods(1, 4)
	var tr []traffic
	for _, p := range pods {
		tr = append(tr, traffic{pod: p})
	}
	h.feed(5, tr...)
	checkPodLists(t, h.e)
	src := h.e.sources["node-1"]
	table := h.e.pods.byUID
	h.e.pods.byUID = newPodTable() // only the cursor can find a pod now
	h.e.next = podCursor{src: src, at: 0}
	for i, p := range pods[:2] {
		if got := h.e.findPod(p.uid); got != src.pods[i] {
			t.Fatalf("pod %d in order: found %v, want the next pod in its node's list", i, got)
		}
	}
	if got := h.e.findPod(pods[3].uid); got != nil {
		t.Fatalf("pod 3 out of order found %s without the table", got.ref)
	}
	h.e.pods.byUID = table
	if got := h.e.findPod(pods[3].uid); got != src.pods[3] {
		t.Fatalf("pod 3 out of order: found %v, want it from the table", got)
	}
	if h.e.next.at != 4 {
		t.Errorf("after pod 3 the cursor is at %d, want 4", h.e.next.at)
	}
}

// TestFindPodMatchesTheIndex: whatever order pods come in, across nodes, while pods expire and
// a node is forgotten, findPod finds what the pod index finds.
func TestFindPodMatchesTheIndex(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Limits.PodExpiry, c.IdleFlush = time.Minute, time.Minute })
	rng := rand.New(rand.NewPCG(1, 2))
	pods := append(canonicalPods(1, 8), canonicalPods(2, 8)...)
	check := func(when string) {
		t.Helper()
		checkPodLists(t, h.e)
		for _, i := range rng.Perm(len(pods)) {
			id, _ := parseUID(pods[i].uid)
			if got, want := h.e.findPod(pods[i].uid), h.e.pods.byUID.find(id); got != want {
				t.Fatalf("%s: findPod(%s) = %v, the index has %v", when, pods[i].uid, got, want)
			}
		}
	}
	order := rng.Perm(len(pods))
	for round := range 40 {
		if round%5 == 4 {
			order = rng.Perm(len(pods)) // mostly the same order, now and then another
		}
		var tr []traffic
		for _, i := range order {
			// A few pods sit out a round; node-2's last four stop after round 10 and expire.
			if rng.IntN(8) == 0 || (round > 10 && i >= 12) {
				continue
			}
			tr = append(tr, traffic{pods[i], 2000, 1000})
		}
		h.feed(int64(5+10*round), tr...)
		check(fmt.Sprintf("round %d", round))
	}
	if h.e.pods.len() > 12 {
		t.Fatalf("%d pods tracked, want node-2's last four expired", h.e.pods.len())
	}

	// A node that only ever primed is forgotten once quiet for pod_expiry: a cursor left on it
	// must not find its pods.
	quiet := canonicalPods(3, 2)
	h.feed(405, traffic{pod: quiet[0]}, traffic{pod: quiet[1]})
	src := h.e.sources["node-3"]
	h.advanceClock(2 * time.Minute)
	h.e.Tick(context.Background())
	if h.e.sources["node-3"] != nil {
		t.Fatal("node-3 not forgotten")
	}
	h.e.next = podCursor{src: src, at: 0}
	if p := h.e.findPod(quiet[0].uid); p != nil {
		t.Fatalf("found %s of a forgotten node", p.ref)
	}
	check("after node-3 was forgotten")
}
