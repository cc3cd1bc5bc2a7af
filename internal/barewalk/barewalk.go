// Package barewalk is the benchmarks' floor: the least any consumer of the network points must do
// with a batch. It reads the pod's uid with one map lookup per pod, each metric's name, and each
// network point's interface and direction attributes, time and value, and keeps a running sum
// per pod; it scores nothing and buffers nothing. The engine's benchmarks run it on the same
// batches, in the same run, so that their figures can be read against it.
package barewalk

import "go.opentelemetry.io/collector/pdata/pmetric"

// Pod is what the walk keeps per pod.
type Pod struct {
	UID          string
	Time         int64
	Receive      int64
	Transmit     int64
	InterfaceLen int
}

// Walker keeps one Pod per uid.
type Walker struct {
	metric string
	Pods   map[string]*Pod
}

// New walks the points of the named metric (k8s.pod.network.io).
func New(metric string) *Walker {
	return &Walker{metric: metric, Pods: map[string]*Pod{}}
}

// Walk reads one batch.
func (w *Walker) Walk(md pmetric.Metrics) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		var p *Pod
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != w.metric || m.Type() != pmetric.MetricTypeSum {
					continue
				}
				if p == nil {
					uid, _ := rm.Resource().Attributes().Get("k8s.pod.uid")
					if p = w.Pods[uid.Str()]; p == nil {
						p = &Pod{UID: uid.Str()}
						w.Pods[p.UID] = p
					}
				}
				dps := m.Sum().DataPoints()
				for l := 0; l < dps.Len(); l++ {
					dp := dps.At(l)
					attrs := dp.Attributes()
					iface, _ := attrs.Get("interface")
					dir, _ := attrs.Get("direction")
					p.InterfaceLen += len(iface.Str())
					p.Time = int64(dp.Timestamp())
					if dir.Str() == "receive" {
						p.Receive += dp.IntValue()
					} else {
						p.Transmit += dp.IntValue()
					}
				}
			}
		}
	}
}
