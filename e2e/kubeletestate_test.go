package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// kubeletMetric is one metric that the kubeletstats receiver (v0.145.0) emits by default, under
// the same name after each kind's prefix (k8s.node., k8s.pod., container.).
type kubeletMetric struct {
	suffix string
	unit   string
	sum    bool // a monotonic cumulative Sum; otherwise a Gauge
	double bool
	// perDirection: one point per direction of the default interface (eth0), with the interface
	// and direction attributes; nodes and pods only.
	perDirection bool
}

// kubeletDefaultMetrics are the default-enabled metrics of the groups that are on by default
// (container, pod, node), in the order the receiver emits them.
var kubeletDefaultMetrics = []kubeletMetric{
	{suffix: "cpu.time", unit: "s", sum: true, double: true},
	{suffix: "cpu.usage", unit: "{cpu}", double: true},
	{suffix: "filesystem.available", unit: "By"},
	{suffix: "filesystem.capacity", unit: "By"},
	{suffix: "filesystem.usage", unit: "By"},
	{suffix: "memory.available", unit: "By"},
	{suffix: "memory.major_page_faults", unit: "1"},
	{suffix: "memory.page_faults", unit: "1"},
	{suffix: "memory.rss", unit: "By"},
	{suffix: "memory.usage", unit: "By"},
	{suffix: "memory.working_set", unit: "By"},
	{suffix: "network.errors", unit: "1", sum: true, perDirection: true},
	{suffix: "network.io", unit: "By", sum: true, perDirection: true},
}

// kubeletKind is what a kubeletstats resource stands for.
type kubeletKind struct {
	prefix string // of its metric names
	title  string // in its metrics' descriptions
}

var (
	nodeKind      = kubeletKind{prefix: "k8s.node.", title: "Node"}
	podKind       = kubeletKind{prefix: "k8s.pod.", title: "Pod"}
	containerKind = kubeletKind{prefix: "container.", title: "Container"}
)

// description is the receiver's description of m for kind k: the CPU metrics share one text, the
// others say the kind and the metric's words ("Pod memory working_set", "Pod network IO").
func (k kubeletKind) description(m kubeletMetric) string {
	switch m.suffix {
	case "cpu.time":
		return "Total cumulative CPU time (sum of all cores) spent by the container/pod/node since its creation"
	case "cpu.usage":
		return "Total CPU usage (sum of all cores per second) averaged over the sample window"
	case "network.io":
		return k.title + " network IO"
	}
	return k.title + " " + strings.Replace(m.suffix, ".", " ", 1)
}

// metrics are kind's metrics: containers have no network metrics.
func (k kubeletKind) metrics() []kubeletMetric {
	if k != containerKind {
		return kubeletDefaultMetrics
	}
	var out []kubeletMetric
	for _, m := range kubeletDefaultMetrics {
		if !m.perDirection {
			out = append(out, m)
		}
	}
	return out
}

const (
	kubeletScope = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver"
	// estateScrape is the scrape interval: the search's span.
	estateScrape = 10 * time.Second
	// estateServices is how many services the estate's pods belong to (baseline keys).
	estateServices = 500
)

// Per-scrape byte counts of a pod's eth0: in/out = 2, the baseline's average; an anomalous pod
// receives 20 times as much.
const (
	estateRx          = 2_000_000
	estateTx          = 1_000_000
	estateAnomalousRx = 40_000_000
)

// kubeletEstate is what agents running the kubeletstats receiver with its default metric groups
// send a gateway, one OTLP request per node and scrape: the node's resource, then each pod's
// resource followed by its one container's. The agent's resource processor has set
// k8s.cluster.name and k8s.node.name on every resource (as in examples/scaleout/agent.yaml).
// Pods are named like a Deployment's (service, template hash, 5-character suffix); every
// anomalousEvery-th pod sends a ratio that flags.
type kubeletEstate struct {
	cluster        string
	podsPerNode    int
	anomalousEvery int
	nodes          []pmetric.Metrics // the last scrape, one batch per node, updated in place
	scrapes        int
	start          time.Time // data time of scrape 0
}

func newKubeletEstate(cluster string, nodes, podsPerNode, anomalousEvery int, start time.Time) *kubeletEstate {
	e := &kubeletEstate{cluster: cluster, podsPerNode: podsPerNode, anomalousEvery: anomalousEvery, start: start}
	podStart := pcommon.NewTimestampFromTime(start.Add(-72 * time.Hour))
	for n := 0; n < nodes; n++ {
		node := fmt.Sprintf("node-%03d", n)
		md := pmetric.NewMetrics()
		e.addResource(md, nodeKind, node, [][2]string{{"k8s.node.name", node}}, podStart, n)
		for p := 0; p < podsPerNode; p++ {
			i := n*podsPerNode + p
			svc := fmt.Sprintf("svc%03d", i%estateServices)
			pod := [][2]string{
				{"k8s.pod.uid", fmt.Sprintf("5f6c3a1e-%04x-4000-8000-%012x", n, i)},
				{"k8s.pod.name", fmt.Sprintf("%s-7c5ddbdf54-%s", svc, podSuffix(i))},
				{"k8s.namespace.name", fmt.Sprintf("team-%02d", i%estateServices%20)},
			}
			e.addResource(md, podKind, node, pod, podStart, i)
			e.addResource(md, containerKind, node, append(pod, [2]string{"k8s.container.name", svc}), podStart, i)
		}
		e.nodes = append(e.nodes, md)
	}
	return e
}

// addResource appends one resource of kind on node with the receiver's attributes and scrape 0's
// values; i varies the values between resources.
func (e *kubeletEstate) addResource(md pmetric.Metrics, kind kubeletKind, node string, attrs [][2]string, started pcommon.Timestamp, i int) {
	rm := md.ResourceMetrics().AppendEmpty()
	ra := rm.Resource().Attributes()
	for _, kv := range attrs {
		ra.PutStr(kv[0], kv[1])
	}
	// What the agent's resource processor upserts.
	ra.PutStr("k8s.cluster.name", e.cluster)
	ra.PutStr("k8s.node.name", node)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(kubeletScope)
	sm.Scope().SetVersion("0.1.0")
	for _, km := range kind.metrics() {
		m := sm.Metrics().AppendEmpty()
		m.SetName(kind.prefix + km.suffix)
		m.SetDescription(kind.description(km))
		m.SetUnit(km.unit)
		var dps pmetric.NumberDataPointSlice
		if km.sum {
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dps = s.DataPoints()
		} else {
			dps = m.SetEmptyGauge().DataPoints()
		}
		directions := []string{""}
		if km.perDirection {
			directions = []string{"receive", "transmit"}
		}
		for _, dir := range directions {
			dp := dps.AppendEmpty()
			if dir != "" {
				dp.Attributes().PutStr("interface", "eth0")
				dp.Attributes().PutStr("direction", dir)
			}
			dp.SetStartTimestamp(started)
			switch {
			case km.double && km.sum:
				dp.SetDoubleValue(float64(3600 + i%977))
			case km.double:
				dp.SetDoubleValue(0.01 + float64(i%89)/1000)
			case km.unit == "By" && km.sum:
				dp.SetIntValue(int64(1_000_000_000 + i*7919))
			case km.unit == "By":
				dp.SetIntValue(int64(64<<20 + (i%251)<<20))
			default: // page faults, network errors
				dp.SetIntValue(int64(i % 4099))
			}
		}
	}
}

// next moves the estate one scrape on and returns it, one batch per node. The batches are the
// estate's own, rewritten in place: the caller marshals them before the next call, and the
// collector under test decodes every request into new memory anyway.
func (e *kubeletEstate) next() []pmetric.Metrics {
	e.scrapes++
	for n, md := range e.nodes {
		// Each agent scrapes its kubelet at its own moment within the interval.
		ts := pcommon.NewTimestampFromTime(e.start.Add(time.Duration(e.scrapes)*estateScrape + time.Duration(n*37)*time.Millisecond))
		rms := md.ResourceMetrics()
		for r := 0; r < rms.Len(); r++ {
			// Resource 0 is the node, then a pod and its container by turns.
			pod := -1
			if r%2 == 1 {
				pod = n*e.podsPerNode + r/2
			}
			ms := rms.At(r).ScopeMetrics().At(0).Metrics()
			for k := 0; k < ms.Len(); k++ {
				e.advance(ms.At(k), pod, ts)
			}
		}
	}
	return e.nodes
}

// advance stamps m's points with ts and moves their values on: counters grow (a pod's eth0 by its
// traffic), gauges wander.
func (e *kubeletEstate) advance(m pmetric.Metric, pod int, ts pcommon.Timestamp) {
	var dps pmetric.NumberDataPointSlice
	if m.Type() == pmetric.MetricTypeSum {
		dps = m.Sum().DataPoints()
	} else {
		dps = m.Gauge().DataPoints()
	}
	sum := m.Type() == pmetric.MetricTypeSum
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		dp.SetTimestamp(ts)
		up := e.scrapes%2 == 0
		switch {
		case dp.ValueType() == pmetric.NumberDataPointValueTypeDouble && sum:
			dp.SetDoubleValue(dp.DoubleValue() + 0.25)
		case dp.ValueType() == pmetric.NumberDataPointValueTypeDouble:
			if up {
				dp.SetDoubleValue(dp.DoubleValue() * 1.01)
			} else {
				dp.SetDoubleValue(dp.DoubleValue() / 1.01)
			}
		case sum && pod >= 0 && m.Name() == networkMetric:
			dp.SetIntValue(dp.IntValue() + e.podBytes(pod, i == 0))
		case sum && m.Unit() == "By": // the node's interface
			dp.SetIntValue(dp.IntValue() + 150_000_000)
		case sum: // network errors stay as they are
		case up:
			dp.SetIntValue(dp.IntValue() + 4096)
		default:
			dp.SetIntValue(dp.IntValue() - 4096)
		}
	}
}

// podBytes is what pod received (or sent) over one scrape interval.
func (e *kubeletEstate) podBytes(pod int, receive bool) int64 {
	switch {
	case !receive:
		return estateTx
	case pod%e.anomalousEvery == 0:
		return estateAnomalousRx
	}
	return estateRx + int64(pod%7)*1000
}

// podSuffix is i in base 36 on 5 characters, like the random suffix of a Deployment's pod.
func podSuffix(i int) string { return fmt.Sprintf("%05s", strconv.FormatInt(int64(i%60_466_176), 36)) }

// estateBaseline is the baseline CSV for the estate's services: in/out averaging 2.
func estateBaseline(cluster string) string {
	var sb strings.Builder
	sb.WriteString("key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n")
	for s := 0; s < estateServices; s++ {
		fmt.Fprintf(&sb, "%s:svc%03d,2,0.5,0.5,0.125,8640,1700000000\n", cluster, s)
	}
	return sb.String()
}

// kubeletShape is a batch's form without its values: for each resource kind and metric name,
// everything a consumer's cost depends on besides the values.
func kubeletShape(md pmetric.Metrics) map[string]string {
	shape := map[string]string{}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		ra := rm.Resource().Attributes()
		kind := nodeKind
		if _, ok := ra.Get("k8s.container.name"); ok {
			kind = containerKind
		} else if _, ok := ra.Get("k8s.pod.uid"); ok {
			kind = podKind
		}
		resKeys := sortedKeys(ra)
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			sm := rm.ScopeMetrics().At(j)
			for k := 0; k < sm.Metrics().Len(); k++ {
				m := sm.Metrics().At(k)
				var dps pmetric.NumberDataPointSlice
				form := m.Type().String()
				if m.Type() == pmetric.MetricTypeSum {
					dps = m.Sum().DataPoints()
					form += fmt.Sprintf(" monotonic=%v %s", m.Sum().IsMonotonic(), m.Sum().AggregationTemporality())
				} else {
					dps = m.Gauge().DataPoints()
				}
				var points []string
				for p := 0; p < dps.Len(); p++ {
					dp := dps.At(p)
					points = append(points, fmt.Sprintf("%s%v", dp.ValueType(), dp.Attributes().AsRaw()))
				}
				shape[kind.title+" "+m.Name()] = fmt.Sprintf("resource %v; scope %s %s; %s %q %q; points %v",
					resKeys, sm.Scope().Name(), sm.Scope().Version(), form, m.Unit(), m.Description(), points)
			}
		}
	}
	return shape
}

func sortedKeys(m pcommon.Map) []string {
	var keys []string
	m.Range(func(k string, _ pcommon.Value) bool {
		keys = append(keys, k)
		return true
	})
	sort.Strings(keys)
	return keys
}

func TestKubeletEstate(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	const nodes, podsPerNode = 3, 4
	e := newKubeletEstate("c1", nodes, podsPerNode, 5, start)
	first := e.next()
	if len(first) != nodes {
		t.Fatalf("%d batches, want one per node (%d)", len(first), nodes)
	}
	// What the receiver sends per node, pod and container (checked against the real receiver by
	// TestKubeletEstateShape): 13 metrics of 15 points, 13 of 15, 11 of 11.
	for n, md := range first {
		if got, want := md.ResourceMetrics().Len(), 1+2*podsPerNode; got != want {
			t.Fatalf("node %d: %d resources, want %d", n, got, want)
		}
		if got, want := md.MetricCount(), 13+podsPerNode*(13+11); got != want {
			t.Errorf("node %d: %d metrics, want %d", n, got, want)
		}
		if got, want := md.DataPointCount(), 15+podsPerNode*(15+11); got != want {
			t.Errorf("node %d: %d points, want %d", n, got, want)
		}
		for r := 0; r < md.ResourceMetrics().Len(); r++ {
			ra := md.ResourceMetrics().At(r).Resource().Attributes()
			if v, _ := ra.Get("k8s.node.name"); v.Str() != fmt.Sprintf("node-%03d", n) {
				t.Errorf("node %d resource %d: k8s.node.name %q", n, r, v.Str())
			}
			if v, _ := ra.Get("k8s.cluster.name"); v.Str() != "c1" {
				t.Errorf("node %d resource %d: k8s.cluster.name %q", n, r, v.Str())
			}
		}
	}
	before := estateNetwork(t, first)
	if len(before) != nodes*podsPerNode {
		t.Fatalf("%d pods with network points, want %d (uids must differ)", len(before), nodes*podsPerNode)
	}
	stamp := first[0].ResourceMetrics().At(1).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0).Timestamp().AsTime()
	after := estateNetwork(t, e.next())
	for uid, b := range before {
		a := after[uid]
		if a.time.Sub(b.time) != estateScrape {
			t.Errorf("pod %s: points %v apart, want %v", uid, a.time.Sub(b.time), estateScrape)
		}
		rx, tx := a.rx-b.rx, a.tx-b.tx
		if tx != estateTx {
			t.Errorf("pod %s sent %d B in a scrape, want %d", uid, tx, estateTx)
		}
		if b.pod%5 == 0 {
			if rx != estateAnomalousRx {
				t.Errorf("anomalous pod %s received %d B, want %d", uid, rx, estateAnomalousRx)
			}
		} else if rx < estateRx || rx > estateRx+6000 {
			t.Errorf("pod %s received %d B, want in/out about 2 (%d..%d)", uid, rx, estateRx, estateRx+6000)
		}
	}
	if want := start.Add(estateScrape); !stamp.Equal(want) {
		t.Errorf("first scrape stamped %v, want %v", stamp, want)
	}
}

// estatePoint is a pod's eth0 counters in one scrape.
type estatePoint struct {
	pod    int
	time   time.Time
	rx, tx int64
}

// estateNetwork reads each pod's eth0 counters from a scrape, by uid.
func estateNetwork(t *testing.T, batches []pmetric.Metrics) map[string]estatePoint {
	t.Helper()
	out := map[string]estatePoint{}
	pod := 0
	for _, md := range batches {
		for r := 0; r < md.ResourceMetrics().Len(); r++ {
			rm := md.ResourceMetrics().At(r)
			ms := rm.ScopeMetrics().At(0).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if ms.At(k).Name() != networkMetric {
					continue
				}
				dps := ms.At(k).Sum().DataPoints()
				if dps.Len() != 2 {
					t.Fatalf("%d points of %s, want receive and transmit", dps.Len(), networkMetric)
				}
				uid, _ := rm.Resource().Attributes().Get("k8s.pod.uid")
				out[uid.Str()] = estatePoint{pod: pod, time: dps.At(0).Timestamp().AsTime(), rx: dps.At(0).IntValue(), tx: dps.At(1).IntValue()}
				pod++
			}
		}
	}
	return out
}

// simulatorUnserved are the estate's metrics that kubeletsim's /stats/summary has no figures for
// (ephemeral storage, rootfs and available memory); a real kubelet has them, and the receiver's own
// testdata (a minikube summary) gives all of them in the same form as the other metrics.
var simulatorUnserved = []string{"filesystem.available", "filesystem.capacity", "filesystem.usage", "memory.available"}

// TestKubeletEstateShape compares the benchmark's estate with what the real kubeletstats receiver,
// default metric groups, sends for the simulated kubelet: the same metrics, names, units,
// descriptions, types, point attributes and resource attributes, but for the figures the
// simulator does not serve.
func TestKubeletEstateShape(t *testing.T) {
	bins := requireBinaries(t)
	t.Parallel()
	dir := t.TempDir()
	sim := startSimulator(t, bins, dir, testSpan)
	c := &collector{bins: bins, configPath: filepath.Join(dir, "collector.yaml"), metricsPath: filepath.Join(dir, "metrics.json")}
	telemetryPort := freePort(t)
	c.telemetryURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", telemetryPort)
	cfg := map[string]any{
		"receivers": map[string]any{"kubeletstats": map[string]any{
			"collection_interval": "1s", "auth_type": "none", "endpoint": "http://" + sim.addr,
		}},
		"processors": map[string]any{"resource": map[string]any{"attributes": []any{
			map[string]any{"key": "k8s.cluster.name", "value": sim.cluster(), "action": "upsert"},
			map[string]any{"key": "k8s.node.name", "value": sim.node(), "action": "upsert"},
		}}},
		"exporters": map[string]any{"file": map[string]any{"path": c.metricsPath, "format": "json", "flush_interval": "200ms"}},
		"service": map[string]any{
			"pipelines": map[string]any{"metrics": map[string]any{
				"receivers": []string{"kubeletstats"}, "processors": []string{"resource"}, "exporters": []string{"file"},
			}},
			"telemetry": map[string]any{"metrics": map[string]any{"readers": []any{map[string]any{
				"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{"host": "127.0.0.1", "port": telemetryPort}}},
			}}}},
		},
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.configPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c.start(t)
	lines := jsonLines{path: c.metricsPath}
	var scrape []byte
	eventually(t, 30*time.Second, "a scrape in the metrics file", func() error {
		got, err := lines.next()
		if err != nil || len(got) > 0 {
			if len(got) > 0 {
				scrape = got[0]
			}
			return err
		}
		return c.orDead(errors.New("nothing written yet"))
	})
	c.stop(t)
	var u pmetric.JSONUnmarshaler
	md, err := u.UnmarshalMetrics(scrape)
	if err != nil {
		t.Fatal(err)
	}
	real := kubeletShape(md)
	ours := kubeletShape(newKubeletEstate(sim.cluster(), 1, 1, 100, time.Now()).next()[0])
	for _, kind := range []kubeletKind{nodeKind, podKind, containerKind} {
		for _, m := range simulatorUnserved {
			delete(ours, kind.title+" "+kind.prefix+m)
		}
	}
	for k, want := range real {
		if got, ok := ours[k]; !ok {
			t.Errorf("the receiver sends %s, the estate does not: %s", k, want)
		} else if got != want {
			t.Errorf("%s differs:\n receiver: %s\n estate:   %s", k, want, got)
		}
	}
	for k, got := range ours {
		if _, ok := real[k]; !ok {
			t.Errorf("the estate sends %s, the receiver does not: %s", k, got)
		}
	}
	if _, ok := real["Pod "+networkMetric]; !ok {
		t.Errorf("no %s from the receiver: the comparison covered nothing of ours", networkMetric)
	}
}
