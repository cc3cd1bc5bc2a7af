package kubeletsim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// RecordOptions say what Record writes.
type RecordOptions struct {
	// Data time recorded from simulated time 0, and a node's collection_interval (whole ms).
	Duration, Interval time.Duration
	// DefaultInterfaceOnly reports only each pod's default interface, as kubeletstats does
	// without collect_all_network_interfaces; otherwise every interface (the demo's setting).
	DefaultInterfaceOnly bool
}

// Scope of the recorded metrics: the receiver that would have produced them.
const (
	recordScopeName    = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/kubeletstatsreceiver"
	recordScopeVersion = "0.145.0"
)

// Record writes, without sleeping, what a file exporter writes behind a kubeletstats
// receiver per node and a resource processor adding cluster and node: one OTLP JSON line
// per node and scrape, in data-time order, and returns the lines written. Only
// k8s.pod.network.io: the detection reads nothing else, and the rest would more than
// double a day's 270 MB. Node i scrapes (i+1) x 50 ms plus up to 10 ms after each whole
// interval, as a ticker lands, so 60 s scrapes see the patterns' minute slots whole, as
// the measured samples did. It reads counters through Summary: not concurrently with a
// server of the same Simulator.
func (s *Simulator) Record(w io.Writer, o RecordOptions) (int, error) {
	if o.Interval < time.Millisecond || o.Interval%time.Millisecond != 0 {
		return 0, fmt.Errorf("record interval %v: want a whole number of milliseconds", o.Interval)
	}
	if o.Duration < o.Interval {
		return 0, fmt.Errorf("record duration %v: want at least one interval (%v)", o.Duration, o.Interval)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var marshaler pmetric.JSONMarshaler
	lines := 0
	n := len(s.nodes)
	for j := int64(0); ; j++ {
		base := time.Duration(j) * o.Interval
		if base >= o.Duration {
			break
		}
		for i, node := range s.nodes {
			phase := min(time.Duration(i+1)*50*time.Millisecond, o.Interval*time.Duration(i+1)/time.Duration(10*n))
			delay := time.Duration(noiseHash(s.seed, stringHash("scrape", s.cluster, node), j, 0)%10) * time.Millisecond
			at := base + phase + delay
			if at >= o.Duration {
				continue
			}
			ts := s.start.Add(at)
			sum, err := s.Summary(node, ts)
			if err != nil {
				return lines, err
			}
			md := s.summaryMetrics(sum, ts, o.DefaultInterfaceOnly)
			b, err := marshaler.MarshalMetrics(md)
			if err != nil {
				return lines, err
			}
			bw.Write(b)
			if err := bw.WriteByte('\n'); err != nil {
				return lines, err
			}
			lines++
		}
	}
	return lines, bw.Flush()
}

// summaryMetrics turns one node's Summary into the pod network metrics kubeletstats emits.
func (s *Simulator) summaryMetrics(sum Summary, at time.Time, defaultOnly bool) pmetric.Metrics {
	md := pmetric.NewMetrics()
	now := pcommon.NewTimestampFromTime(at)
	for _, p := range sum.Pods {
		rm := md.ResourceMetrics().AppendEmpty()
		attrs := rm.Resource().Attributes()
		attrs.PutStr("k8s.pod.uid", p.PodRef.UID)
		attrs.PutStr("k8s.pod.name", p.PodRef.Name)
		attrs.PutStr("k8s.namespace.name", p.PodRef.Namespace)
		attrs.PutStr("k8s.cluster.name", s.cluster)
		attrs.PutStr("k8s.node.name", sum.Node.NodeName)
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(recordScopeName)
		sm.Scope().SetVersion(recordScopeVersion)
		ifaces := p.Network.Interfaces
		if defaultOnly {
			ifaces = []InterfaceStats{p.Network.InterfaceStats}
		}
		start := pcommon.NewTimestampFromTime(p.StartTime.Time)
		ifaceSum(sm.Metrics(), "k8s.pod.network.io", "Pod network IO", "By", start, now, ifaces)
	}
	return md
}

// ifaceSum is a kubeletstats network metric: a monotonic cumulative Int sum per interface and direction.
func ifaceSum(ms pmetric.MetricSlice, name, desc, unit string, start, now pcommon.Timestamp, ifaces []InterfaceStats) {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetDescription(desc)
	m.SetUnit(unit)
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for _, in := range ifaces {
		rx, tx := *in.RxBytes, *in.TxBytes
		for _, d := range []struct {
			dir string
			v   uint64
		}{{"receive", rx}, {"transmit", tx}} {
			dp := sum.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(now)
			dp.SetIntValue(int64(min(d.v, math.MaxInt64)))
			dp.Attributes().PutStr("interface", in.Name)
			dp.Attributes().PutStr("direction", d.dir)
		}
	}
}
