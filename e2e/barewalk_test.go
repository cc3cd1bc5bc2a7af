package e2e

import "go.opentelemetry.io/collector/pdata/pmetric"

// bareWalker is BenchmarkProcessorOnKubeletstats' floor: the least any consumer of the network
// points does with a batch, as internal/engine's BenchmarkBareWalk defines it (the pod's uid with
// one map lookup per pod, each metric's name, each network point's interface and direction, time
// and value). It is a copy of that walk, not a shared package: moved out of the package that
// times it, the walk measured about 40 % slower in the engine's benchmark (the compiler stopped
// inlining pcommon.Value.Str there), which would flatter whatever is compared with it.
type bareWalker struct {
	pods map[string]*walkPod
}

type walkPod struct {
	uid      string
	ts       int64
	rx, tx   int64
	ifaceLen int
}

func (w *bareWalker) walk(md pmetric.Metrics) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		var p *walkPod
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != "k8s.pod.network.io" || m.Type() != pmetric.MetricTypeSum {
					continue
				}
				if p == nil {
					uid, _ := rm.Resource().Attributes().Get("k8s.pod.uid")
					if p = w.pods[uid.Str()]; p == nil {
						p = &walkPod{uid: uid.Str()}
						w.pods[p.uid] = p
					}
				}
				dps := m.Sum().DataPoints()
				for l := 0; l < dps.Len(); l++ {
					dp := dps.At(l)
					attrs := dp.Attributes()
					iface, _ := attrs.Get("interface")
					dir, _ := attrs.Get("direction")
					p.ifaceLen += len(iface.Str())
					p.ts = int64(dp.Timestamp())
					if dir.Str() == "receive" {
						p.rx += dp.IntValue()
					} else {
						p.tx += dp.IntValue()
					}
				}
			}
		}
	}
}
