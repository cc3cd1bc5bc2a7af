package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// t0 is a realistic data time on a whole hour (2023-11-14T22:00:00Z, 472222 * 3600 s), so that
// window starts fall on t0 + k*3600 s. Realistic epoch values matter: several code paths compare
// data time against durations (pod expiry), which small test timestamps would hide.
const t0 = int64(1_699_999_200)

// podStart is the StartTimestamp the kubeletstats receiver would put on every point of a pod.
var podStart = pcommon.Timestamp((t0 - 86400) * int64(time.Second))

// tsAt is t0 + sec seconds as a pdata timestamp.
func tsAt(sec int64) pcommon.Timestamp { return pcommon.Timestamp((t0 + sec) * int64(time.Second)) }

// timeAt is t0 + sec seconds.
func timeAt(sec int64) time.Time { return time.Unix(t0+sec, 0).UTC() }

// ---- input builders ----

// podRes is the resource of one pod; empty fields are left off the resource.
type podRes struct {
	uid, name, namespace, cluster, node, hostName string
}

func (p podRes) putAttrs(m pcommon.Map) {
	for _, kv := range [][2]string{
		{"k8s.pod.uid", p.uid}, {"k8s.pod.name", p.name}, {"k8s.namespace.name", p.namespace},
		{"k8s.cluster.name", p.cluster}, {"k8s.node.name", p.node}, {"host.name", p.hostName},
	} {
		if kv[1] != "" {
			m.PutStr(kv[0], kv[1])
		}
	}
}

var (
	webPod = podRes{uid: "uid-web-1", name: "web-7c5ddbdf54-x8f2k", namespace: "default", cluster: "prod", node: "node-1"}
	// webPod2 has a uid as Kubernetes writes it (the pods keyed by its bytes), the others not.
	webPod2    = podRes{uid: "6f1c2b3a-9d4e-4f5a-8b6c-7d8e9f0a1b2c", name: "web-7c5ddbdf54-q9z7m", namespace: "default", cluster: "prod", node: "node-2"}
	fluentdPod = podRes{uid: "uid-fluentd-1", name: "fluentd-x8f2k", namespace: "logging", cluster: "prod", node: "node-1"}
)

type metricKind int

const (
	cumulativeSum metricKind = iota
	deltaSum
	gaugeMetric
	histogramMetric
)

// point is one data point of k8s.pod.network.io; dir "" leaves the direction attribute off.
type point struct {
	iface, dir string
	sec        int64 // seconds after t0
	nsec       int64 // extra nanoseconds
	start      pcommon.Timestamp
	i          int64
	f          float64
	double     bool
}

func ip(iface, dir string, sec, v int64) point { return point{iface: iface, dir: dir, sec: sec, i: v} }
func fp(iface, dir string, sec int64, v float64) point {
	return point{iface: iface, dir: dir, sec: sec, f: v, double: true}
}

type mdBuilder struct{ md pmetric.Metrics }

func newMD() *mdBuilder { return &mdBuilder{md: pmetric.NewMetrics()} }

// add appends one ResourceMetrics for pod p holding the metric k8s.pod.network.io.
func (b *mdBuilder) add(p podRes, k metricKind, pts ...point) *mdBuilder {
	return b.addNamed(p, "k8s.pod.network.io", k, pts...)
}

func (b *mdBuilder) addNamed(p podRes, name string, k metricKind, pts ...point) *mdBuilder {
	rm := b.md.ResourceMetrics().AppendEmpty()
	p.putAttrs(rm.Resource().Attributes())
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver")
	// A metric the engine must not look at, before the one it reads.
	other := sm.Metrics().AppendEmpty()
	other.SetName("k8s.pod.cpu.usage")
	other.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(0.25)
	m := sm.Metrics().AppendEmpty()
	m.SetName(name)
	m.SetUnit("By")
	if k == histogramMetric {
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for _, pt := range pts {
			dp := h.DataPoints().AppendEmpty()
			dp.SetTimestamp(pcommon.Timestamp(int64(tsAt(pt.sec)) + pt.nsec))
			dp.SetCount(1)
			dp.SetSum(float64(pt.i))
			if pt.dir != "" {
				dp.Attributes().PutStr("direction", pt.dir)
			}
		}
		return b
	}
	var dps pmetric.NumberDataPointSlice
	switch k {
	case cumulativeSum, deltaSum:
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		if k == deltaSum {
			s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		}
		dps = s.DataPoints()
	case gaugeMetric:
		dps = m.SetEmptyGauge().DataPoints()
	}
	for _, pt := range pts {
		dp := dps.AppendEmpty()
		if pt.iface != "" {
			dp.Attributes().PutStr("interface", pt.iface)
		}
		if pt.dir != "" {
			dp.Attributes().PutStr("direction", pt.dir)
		}
		dp.SetTimestamp(pcommon.Timestamp(int64(tsAt(pt.sec)) + pt.nsec))
		if k == cumulativeSum {
			if pt.start != 0 {
				dp.SetStartTimestamp(pt.start)
			} else {
				dp.SetStartTimestamp(podStart)
			}
		}
		if pt.double {
			dp.SetDoubleValue(pt.f)
		} else {
			dp.SetIntValue(pt.i)
		}
	}
	return b
}

// ---- harness ----

type observedSpan struct {
	key, pod      string
	sec           int64 // span start, seconds after t0
	in, out       float64
	hasIn, hasOut bool
}

// recorder is a SpanObserver that keeps every closed pod-span.
type recorder struct {
	mu       sync.Mutex
	spans    []observedSpan
	rates    []observedRates
	advanced []time.Time
}

type observedRates struct {
	pod           string
	sec           int64
	inBps, outBps float64
	coveredSec    float64
}

func (r *recorder) ObserveRates(_, pod string, spanStart time.Time, inBps, outBps float64, covered time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rates = append(r.rates, observedRates{pod, spanStart.Unix() - t0, inBps, outBps, covered.Seconds()})
}

func (r *recorder) Observe(key, pod string, spanStart time.Time, in, out float64, hasIn, hasOut bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, observedSpan{key, pod, spanStart.Unix() - t0, in, out, hasIn, hasOut})
}

func (r *recorder) Advance(wm time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advanced = append(r.advanced, wm)
}

func (r *recorder) all() []observedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]observedSpan(nil), r.spans...)
}

// ofPod returns the spans observed for pod name; the observer sees pods as "namespace/name".
func (r *recorder) ofPod(name string) []observedSpan {
	var out []observedSpan
	for _, s := range r.all() {
		if s.pod[strings.LastIndexByte(s.pod, '/')+1:] == name {
			out = append(out, s)
		}
	}
	return out
}

type harness struct {
	t      testing.TB
	e      *Engine
	cfg    Config
	path   string
	obs    *recorder
	reader *sdkmetric.ManualReader

	mu     sync.Mutex
	now    time.Time
	events []Event

	totals map[string]*[2]int64 // running cumulative receive/transmit per pod, for feed
}

// Baselines used across the tests. Hand arithmetic for ratioCSV, k = 4:
// inbound:outbound flags above 0.5 + 4*0.125 = 1; outbound:inbound flags above 2 + 4*0.5 = 4.
const ratioCSV = "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n" +
	"prod:web,0.5,2,0.125,0.5,8640,1700000000\n" +
	"prod:fluentd,0.5,2,0.125,0.5,8640,1700000000\n" +
	"prod:web-0,0.5,2,0.125,0.5,8640,1700000000\n"

// webText3 is the span text of a web pod with in=300, out=100: inbound:outbound = 3,
// z = (3 - 0.5)/0.125 = 20; outbound:inbound = 1/3 is below 4 and does not flag.
const webText3 = "inbound:outbound ratio higher than average by 20 Standard Deviations. " +
	"inbound:outbound=3 avg_inbound:outbound=0.5 'stdev_inbound:outbound'=0.125"

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// replaceFile writes content next to path and renames it over path, so the reloader always
// sees a new inode and never a half-written file.
func replaceFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Error(err)
	}
}

// testConfig has no lateness: a span closes as soon as a later point of its source arrives, which
// keeps the scenarios short; the tests of lateness set it.
func testConfig(path string) Config {
	cfg := DefaultConfig()
	cfg.Baseline.Path = path
	cfg.Lateness = 0
	return cfg
}

// newHarness builds an engine on baseline csv with the harness's defaults, then applies opts.
func newHarness(t testing.TB, csv string, opts ...func(*Config)) *harness {
	t.Helper()
	path := writeFile(t, t.TempDir(), "baseline.csv", csv)
	cfg := testConfig(path)
	for _, o := range opts {
		o(&cfg)
	}
	h := &harness{t: t, cfg: cfg, path: path, obs: &recorder{}, now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		totals: map[string]*[2]int64{}}
	h.reader = sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	meter := mp.Meter("engine-test")
	var tel Telemetry
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	tel.DatapointsUsed, err = meter.Int64Counter("datapoints_used")
	must(err)
	tel.DatapointsDropped, err = meter.Int64Counter("datapoints_dropped")
	must(err)
	tel.SpansScored, err = meter.Int64Counter("spans_scored")
	must(err)
	tel.SpansAnomalous, err = meter.Int64Counter("spans_anomalous")
	must(err)
	tel.EventsEmitted, err = meter.Int64Counter("events_emitted")
	must(err)
	tel.PodsTracked, err = meter.Int64Gauge("pods_tracked")
	must(err)
	tel.BaselineKeys, err = meter.Int64Gauge("baseline_keys")
	must(err)
	tel.BaselineReloadFailures, err = meter.Int64Counter("baseline_reload_failures")
	must(err)
	tel.LearnWriteFailures, err = meter.Int64Counter("learn_write_failures")
	must(err)
	tel.StateEntriesSkipped, err = meter.Int64Counter("state_entries_skipped")
	must(err)
	e, err := New(cfg, Settings{
		Telemetry: tel,
		Emit: func(_ context.Context, evs []Event) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.events = append(h.events, evs...)
		},
		Observer: h.obs,
		Now: func() time.Time {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.now
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	return h
}

func (h *harness) advanceClock(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

func (h *harness) takeEvents() []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	evs := h.events
	h.events = nil
	return evs
}

// consume feeds md, then checks what every pod keeps about its buffers against the buffers.
func (h *harness) consume(md pmetric.Metrics) {
	h.e.ConsumeMetrics(context.Background(), md)
	checkPods(h.t, h.e)
}

// checkPods checks each pod's pending count and oldest point against its series' buffers.
func checkPods(t testing.TB, e *Engine) {
	t.Helper()
	for name, src := range e.sources {
		for _, p := range src.pods {
			var count int32
			var oldest int64
			all := p.allSeries()
			for i := range all {
				for r := range all[i].points() {
					if count == 0 || r.ts < oldest {
						oldest = r.ts
					}
					count++
				}
			}
			if count != p.pending || count > 0 && oldest != p.oldest {
				t.Fatalf("source %q pod %q: pending %d, oldest %d; its buffers hold %d, the oldest at %d",
					name, p.ref, p.pending, p.oldest, count, oldest)
			}
		}
	}
}

// traffic is one pod's byte increase since its previous scrape.
type traffic struct {
	pod     podRes
	in, out int64
}

// feed sends one kubeletstats scrape at t0+sec: for each pod, cumulative eth0 receive/transmit
// counters grown by in and out. A pod's first feed only primes (its increase is not used).
func (h *harness) feed(sec int64, tr ...traffic) {
	b := newMD()
	for _, x := range tr {
		id := x.pod.uid + "/" + x.pod.cluster + "/" + x.pod.namespace + "/" + x.pod.name
		tot := h.totals[id]
		if tot == nil {
			tot = &[2]int64{1_000_000, 500_000}
			h.totals[id] = tot
		}
		tot[0] += x.in
		tot[1] += x.out
		b.add(x.pod, cumulativeSum, ip("eth0", "receive", sec, tot[0]), ip("eth0", "transmit", sec, tot[1]))
	}
	h.consume(b.md)
}

// spans feeds n+1 scrapes of pod p, at t0+first, t0+first+10, ..., t0+first+10n: the first
// primes, each later one adds in/out to the span it falls in. A span is scored when the next one
// starts, so the last of the n spans stays open until something else closes it.
func (h *harness) spans(p podRes, first int64, n int, in, out int64) {
	h.feed(first, traffic{p, 0, 0})
	for i := 1; i <= n; i++ {
		h.feed(first+int64(10*i), traffic{p, in, out})
	}
}

// ---- telemetry ----

func (h *harness) collect() metricdata.ResourceMetrics {
	h.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		h.t.Fatal(err)
	}
	return rm
}

// counter sums a counter's data points whose "reason" attribute is reason ("" = all).
func (h *harness) counter(name, reason string) int64 {
	h.t.Helper()
	var total int64
	for _, sm := range h.collect().ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				h.t.Fatalf("%s is %T, not an int64 sum", name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				if reason != "" {
					v, _ := dp.Attributes.Value(attribute.Key("reason"))
					if v.AsString() != reason {
						continue
					}
				}
				total += dp.Value
			}
		}
	}
	return total
}

// gauge returns the last value of an int64 gauge, and whether it was recorded.
func (h *harness) gauge(name string) (int64, bool) {
	h.t.Helper()
	for _, sm := range h.collect().ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			g, ok := m.Data.(metricdata.Gauge[int64])
			if !ok {
				h.t.Fatalf("%s is %T, not an int64 gauge", name, m.Data)
			}
			if len(g.DataPoints) > 0 {
				return g.DataPoints[len(g.DataPoints)-1].Value, true
			}
		}
	}
	return 0, false
}

// drops returns every non-zero drop reason with its count.
func (h *harness) drops() map[string]int64 {
	h.t.Helper()
	out := map[string]int64{}
	for _, sm := range h.collect().ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "datapoints_dropped" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				v, _ := dp.Attributes.Value(attribute.Key("reason"))
				if dp.Value != 0 {
					out[v.AsString()] += dp.Value
				}
			}
		}
	}
	return out
}

// ---- assertions ----

func mustOneEvent(t *testing.T, evs []Event) Event {
	t.Helper()
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1: %s", len(evs), describeEvents(evs))
	}
	return evs[0]
}

func describeEvents(evs []Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  %s/%s/%s/%s svc=%s window=%s time=%s count=%d",
			ev.Cluster, ev.Node, ev.Namespace, ev.Pod, ev.Service,
			ev.WindowStart.Format(time.RFC3339), ev.Time.Format(time.RFC3339), ev.Count)
		for _, a := range ev.Anomalies {
			b.WriteString("\n    " + a)
		}
	}
	return b.String()
}

func immediateAny(c *Config) { c.Mode, c.CountThreshold = ModeImmediate, 0 }
