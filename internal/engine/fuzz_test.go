package engine

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// FuzzConsumeMetrics feeds OTLP from fuzzed bytes, as any pod may send to a gateway. Whatever it
// holds, the engine must not panic, must not touch the batch, must account for every point of
// its metric as used or dropped, and must keep its limits.
func FuzzConsumeMetrics(f *testing.F) {
	seed := func(md pmetric.Metrics) {
		b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, b)
	}
	seed(scrape{webPod, 5, 1000, 1000}.metrics())
	seed(newMD().add(webPod, deltaSum, ip("eth0", "receive", 15, 300), ip("eth0", "transmit", 15, 100)).md)
	seed(newMD().add(fluentdPod, gaugeMetric, fp("eth0", "receive", 15, 1.5), fp("", "transmit", 15, -1)).md)
	seed(newMD().add(webPod, histogramMetric, ip("eth0", "receive", 15, 1)).md)
	seed(evilBatch(7258118400000000000))
	seed(newMD().add(podRes{name: "x\r\ny", cluster: "=1", node: "n"}, cumulativeSum, ip("eth0", "receive", 15, 1)).md)
	f.Fuzz(func(t *testing.T, first, second []byte) {
		h := newHarness(t, ratioCSV, func(c *Config) { c.Limits.MaxPods, c.Limits.MaxInterfaces = 4, 2 })
		for _, b := range [][]byte{first, second} {
			md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b)
			if err != nil {
				continue
			}
			before, _ := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
			h.consume(md)
			after, _ := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
			if string(before) != string(after) {
				t.Fatal("ConsumeMetrics changed its input")
			}
		}
		h.e.Flush(context.Background())
		var want int64
		for _, b := range [][]byte{first, second} {
			if md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b); err == nil {
				want += pointsOf(md, "k8s.pod.network.io")
			}
		}
		var got int64 = h.counter("datapoints_used", "")
		for _, n := range h.drops() {
			got += n
		}
		if got != want {
			t.Errorf("%d points accounted for, batch held %d", got, want)
		}
		if h.e.pods.len() > 4 {
			t.Errorf("%d pods tracked, limit 4", h.e.pods.len())
		}
		for p := range h.e.pods.all() {
			if len(p.allSeries()) > 4 {
				t.Errorf("pod %s has %d series, limit 4", p.ref, len(p.allSeries()))
			}
			if !validPodName(p.name()) || !validClusterName(p.cluster()) {
				t.Errorf("pod %q of cluster %q tracked", p.name(), p.cluster())
			}
		}
	})
}

func pointsOf(md pmetric.Metrics, name string) int64 {
	var n int64
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != name {
					continue
				}
				switch m.Type() {
				case pmetric.MetricTypeSum:
					n += int64(m.Sum().DataPoints().Len())
				case pmetric.MetricTypeGauge:
					n += int64(m.Gauge().DataPoints().Len())
				default:
					n += int64(dataPointCount(m))
				}
			}
		}
	}
	return n
}
