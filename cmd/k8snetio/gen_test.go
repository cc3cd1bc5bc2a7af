package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

var regen = flag.Bool("regen", false, "rewrite testdata/replay/metrics.jsonl from its generator")

// replayDir holds the replay example; testdata/replay/README.md explains the numbers below.
const replayDir = "../../testdata/replay"

// TestReplayMetricsUpToDate keeps metrics.jsonl and its generator in step; with -regen it rewrites the file.
// expected.jsonl is not generated: it is worked out by hand from the traffic described here.
func TestReplayMetricsUpToDate(t *testing.T) {
	got := generateReplayMetrics(t)
	path := filepath.Join(replayDir, "metrics.jsonl")
	if *regen {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from its generator; run: go test ./cmd/k8snetio -run TestReplayMetricsUpToDate -regen", path)
	}
}

// genT0 is a whole minute, so the 1 m windows are [t0, t0+1m), [t0+1m, t0+2m), [t0+2m, t0+3m).
var genT0 = time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)

// genScrapes is 3 minutes of scrapes; scrape k lies inside span k, so the increase it reports is span k's.
const genScrapes = 18

type genIface struct {
	name   string
	rx, tx int64                      // the counters at scrape 0
	inc    func(k int) (rx, tx int64) // the increase reported by scrape k >= 1
}

type genPod struct {
	uid, name, namespace string
	start                time.Time // the pod's start, kubeletstats' startTimeUnixNano
	ifaces               []genIface
	resetAt              int // the scrape whose counters restarted from zero since the previous one; 0 for none
}

type genCounter struct{ rx, tx int64 }

type genNode struct {
	name   string
	offset time.Duration // scrape time within each 10 s span
	boot   time.Time
	pods   []*genPod
}

func steady(rx, tx int64) func(int) (int64, int64) {
	return func(int) (int64, int64) { return rx, tx }
}

func between(k, from, to int) bool { return from <= k && k <= to }

func genNodes() []*genNode {
	return []*genNode{
		{
			name: "node-a", offset: 3217 * time.Millisecond, boot: time.Date(2025, 1, 10, 7, 58, 12, 0, time.UTC),
			pods: []*genPod{
				{
					uid: "0b1e7c52-6f0a-4d8e-9a51-3c2f4e8d1a01", name: "web-7c5ddbdf54-x8f2k", namespace: "shop",
					start: time.Date(2025, 1, 15, 9, 12, 40, 0, time.UTC),
					ifaces: []genIface{{name: "eth0", rx: 41873912, tx: 20118470, inc: func(k int) (int64, int64) {
						if between(k, 6, 11) {
							return 4000, 4000 // outbound:inbound exactly at the threshold 0.5 + 4*0.125: not anomalous
						}
						return 4000, 2000
					}}},
				},
				{
					uid: "6d4a9f3b-2c7e-4b1a-8e5d-9f0c3b7a2e02", name: "fluentd-k2v7p", namespace: "logging",
					start: time.Date(2025, 1, 14, 22, 5, 17, 0, time.UTC),
					// The counters' lifetime in:out (about 0.25, a backlog read at start) is not the steady 0.05, so that
					// a naive difference across the reset would flag the reset span.
					ifaces: []genIface{{name: "eth0", rx: 25037212, tx: 100744240, inc: func(k int) (int64, int64) {
						if k == 9 {
							return 600, 12000 // 6 s of traffic since the sandbox came back
						}
						return 1000, 20000
					}}},
					resetAt: 9,
				},
			},
		},
		{
			name: "node-b", offset: 7904 * time.Millisecond, boot: time.Date(2025, 1, 10, 7, 58, 40, 0, time.UTC),
			pods: []*genPod{
				{
					uid: "9c3f1a7e-5b2d-4e6c-a0f8-1d7e2b4c6f03", name: "web-7c5ddbdf54-q4m9z", namespace: "shop",
					start: time.Date(2025, 1, 15, 9, 12, 41, 0, time.UTC),
					ifaces: []genIface{{name: "eth0", rx: 41912388, tx: 20096112, inc: func(k int) (int64, int64) {
						switch {
						case k == 8 || k == 11:
							return 2500, 40000 // exfiltration (outbound x20) while requests dip
						case between(k, 6, 16):
							return 4000, 40000 // exfiltration: outbound x20
						}
						return 4000, 2000
					}}},
				},
				{
					uid: "2e8b6d4f-7a1c-4f3e-b9d2-5c8a0e6f4b04", name: "postgres-0", namespace: "shop",
					start: time.Date(2025, 1, 10, 8, 0, 0, 0, time.UTC),
					ifaces: []genIface{
						{name: "eth0", rx: 1293847562, tx: 431282520, inc: steady(3000, 1000)}, // clients: queries in
						{name: "net1", rx: 431280014, tx: 1293840042, inc: steady(1000, 3000)}, // replication network: WAL out
					},
				},
			},
		},
	}
}

// generateReplayMetrics writes the lines a file exporter behind kubeletstats and a resource processor
// (adding k8s.cluster.name and k8s.node.name) records: one request per node and scrape.
func generateReplayMetrics(t *testing.T) []byte {
	nodes := genNodes()
	// Running counters per pod and interface, advanced scrape by scrape.
	counters := map[string][]genCounter{}
	for _, n := range nodes {
		for _, p := range n.pods {
			for _, ifc := range p.ifaces {
				counters[p.uid] = append(counters[p.uid], genCounter{ifc.rx, ifc.tx})
			}
		}
	}
	var out bytes.Buffer
	marshaler := &pmetric.JSONMarshaler{}
	for k := range genScrapes {
		for ni, n := range nodes {
			ts := genT0.Add(time.Duration(k)*10*time.Second + n.offset)
			md := pmetric.NewMetrics()
			genNodeResource(md, n, k, ni, ts)
			for _, p := range n.pods {
				cs := counters[p.uid]
				for i, ifc := range p.ifaces {
					if k > 0 {
						if k == p.resetAt {
							cs[i] = genCounter{}
						}
						rx, tx := ifc.inc(k)
						cs[i].rx += rx
						cs[i].tx += tx
					}
				}
				genPodResource(md, n, p, cs, k, ts)
			}
			line, err := marshaler.MarshalMetrics(md)
			if err != nil {
				t.Fatal(err)
			}
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

func genScope(rm pmetric.ResourceMetrics) pmetric.MetricSlice {
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver")
	sm.Scope().SetVersion("0.145.0")
	return sm.Metrics()
}

func genNodeResource(md pmetric.Metrics, n *genNode, k, ni int, ts time.Time) {
	rm := md.ResourceMetrics().AppendEmpty()
	attrs := rm.Resource().Attributes()
	attrs.PutStr("k8s.node.name", n.name)
	attrs.PutStr("k8s.cluster.name", "demo")
	ms := genScope(rm)
	start := pcommon.NewTimestampFromTime(n.boot)
	now := pcommon.NewTimestampFromTime(ts)
	genDoubleSum(ms, "k8s.node.cpu.time", "Total cumulative CPU time (sum of all cores) spent by the container/pod/node since its creation", "s",
		start, now, 402113.25+float64(k)*3.5+float64(ni)*1000)
	genIntGauge(ms, "k8s.node.memory.working_set", "Node memory working_set", "By", now, 5368709120+int64(ni)*268435456+int64(k%3)*4096)
	// Node traffic is not the detection's metric; it is here to show that it is left alone.
	rx, tx := int64(98765432100)+int64(k)*250000, int64(45678901200)+int64(k)*180000
	genIfaceSum(ms, "k8s.node.network.io", "Node network IO", "By", start, now, []ifaceValue{{"eth0", rx, tx}})
	genIfaceSum(ms, "k8s.node.network.errors", "Node network errors", "1", start, now, []ifaceValue{{"eth0", 0, 0}})
}

func genPodResource(md pmetric.Metrics, n *genNode, p *genPod, cs []genCounter, k int, ts time.Time) {
	rm := md.ResourceMetrics().AppendEmpty()
	attrs := rm.Resource().Attributes()
	attrs.PutStr("k8s.pod.uid", p.uid)
	attrs.PutStr("k8s.pod.name", p.name)
	attrs.PutStr("k8s.namespace.name", p.namespace)
	attrs.PutStr("k8s.cluster.name", "demo")
	attrs.PutStr("k8s.node.name", n.name)
	ms := genScope(rm)
	start := pcommon.NewTimestampFromTime(p.start)
	now := pcommon.NewTimestampFromTime(ts)
	genDoubleSum(ms, "k8s.pod.cpu.time", "Total cumulative CPU time (sum of all cores) spent by the container/pod/node since its creation", "s",
		start, now, 812.5+float64(k)*0.25)
	genIntGauge(ms, "k8s.pod.memory.working_set", "Pod memory working_set", "By", now, 134217728+int64(k%4)*8192)
	io := make([]ifaceValue, len(p.ifaces))
	errs := make([]ifaceValue, len(p.ifaces))
	for i, ifc := range p.ifaces {
		io[i] = ifaceValue{ifc.name, cs[i].rx, cs[i].tx}
		errs[i] = ifaceValue{ifc.name, 0, 0}
	}
	genIfaceSum(ms, "k8s.pod.network.io", "Pod network IO", "By", start, now, io)
	genIfaceSum(ms, "k8s.pod.network.errors", "Pod network errors", "1", start, now, errs)
}

type ifaceValue struct {
	name   string
	rx, tx int64
}

// genIfaceSum is kubeletstats' network metric: a monotonic cumulative Int sum per interface and direction.
func genIfaceSum(ms pmetric.MetricSlice, name, desc, unit string, start, now pcommon.Timestamp, vs []ifaceValue) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetDescription(desc)
	m.SetUnit(unit)
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for _, v := range vs {
		for _, d := range []struct {
			dir string
			v   int64
		}{{"receive", v.rx}, {"transmit", v.tx}} {
			dp := sum.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(now)
			dp.SetIntValue(d.v)
			dp.Attributes().PutStr("interface", v.name)
			dp.Attributes().PutStr("direction", d.dir)
		}
	}
}

func genDoubleSum(ms pmetric.MetricSlice, name, desc, unit string, start, now pcommon.Timestamp, v float64) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetDescription(desc)
	m.SetUnit(unit)
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := sum.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(start)
	dp.SetTimestamp(now)
	dp.SetDoubleValue(v)
}

func genIntGauge(ms pmetric.MetricSlice, name, desc, unit string, now pcommon.Timestamp, v int64) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetDescription(desc)
	m.SetUnit(unit)
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(now)
	dp.SetIntValue(v)
}
