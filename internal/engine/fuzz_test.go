package engine

import (
	"context"
	"encoding/json"
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
		checkPodLists(t, h.e)
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

// FuzzRestoreState restores a node's saved detection state from fuzzed bytes, as a damaged or
// tampered storage file would hold. The engine must not panic, must take an entry whole or
// refuse it (counted as skipped), and what it took must save back to a state that restores to
// itself: restored and saved again, it is the same bytes. Its spans then close without a panic.
func FuzzRestoreState(f *testing.F) {
	f.Add(savedNode2(f))
	f.Add(savedOutOfOrder(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		var head struct {
			Source string `json:"source"`
		}
		_ = json.Unmarshal(data, &head)
		name := detectPrefix + head.Source
		saved, restored := restoreAndCheckpoint(t, name, data, true)
		if !restored {
			return
		}
		if saved == nil {
			t.Fatalf("restored entry %s not saved again", name)
		}
		again, restored := restoreAndCheckpoint(t, name, saved, false)
		if !restored || string(again) != string(saved) {
			t.Fatalf("the saved state does not restore to itself:\n%s\n%s", saved, again)
		}
	})
}

// restoreAndCheckpoint starts an engine on one saved entry and returns the entry it then saves
// and whether it restored it; with flush, its spans are closed before it stops.
func restoreAndCheckpoint(t *testing.T, name string, data []byte, flush bool) ([]byte, bool) {
	store := &memoryStore{entries: map[string][]byte{name: data}}
	h := newHarness(t, ratioCSV, streamConfig)
	h.e.set.State = store
	h.e.Start()
	defer h.e.Shutdown(context.Background())
	restored := h.counter("state_entries_skipped", "") == 0
	checkPodLists(t, h.e)
	checkPods(t, h.e)
	if err := h.e.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	saved := store.saved[name]
	for p := range h.e.pods.all() {
		if n := len(p.allSeries()); n > 2*h.cfg.Limits.MaxInterfaces {
			t.Errorf("pod %s restored with %d series", p.ref, n)
		}
	}
	if flush {
		h.e.Flush(context.Background())
	}
	return saved, restored
}

// savedOutOfOrder is the saved state of a node whose pod has a long interface name and whose
// points came out of order across a counter restart: buffers of every word form, spilled.
func savedOutOfOrder(t testing.TB) []byte {
	store := &memoryStore{}
	h := newHarness(t, ratioCSV, streamConfig)
	h.e.set.State = store
	const long = "a-very-long-interface-name"
	for _, sec := range []int64{5, 45, 15, 35, 25, 55} {
		rx := ip(long, "receive", sec, 1000*sec)
		if sec >= 35 {
			rx.start, rx.i = tsAt(30), 10*sec // restarted at 30 s
		}
		h.consume(newMD().add(webPod, cumulativeSum, rx, ip("eth0", "transmit", sec, 100*sec)).md)
	}
	h.e.Shutdown(context.Background())
	saved := store.saved[detectPrefix+webPod.node]
	if saved == nil {
		t.Fatalf("no entry for %s in %v", webPod.node, keys(store.saved))
	}
	return saved
}

// The fuzzer's seeds are restored, not refused, and the out-of-order one restores a spilled
// buffer under a long interface name: the round trip is checked on state that has them.
func TestFuzzRestoreSeedsRestore(t *testing.T) {
	for _, data := range [][]byte{savedNode2(t), savedOutOfOrder(t)} {
		var head struct {
			Source string `json:"source"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			t.Fatal(err)
		}
		if _, restored := restoreAndCheckpoint(t, detectPrefix+head.Source, data, true); !restored {
			t.Errorf("seed of %s refused", head.Source)
		}
	}
	store := &memoryStore{entries: map[string][]byte{detectPrefix + webPod.node: savedOutOfOrder(t)}}
	h := newHarness(t, ratioCSV, streamConfig)
	h.e.set.State = store
	h.e.Start()
	defer h.e.Shutdown(context.Background())
	spilled := false
	for p := range h.e.pods.all() {
		for i := range p.allSeries() {
			s := &p.allSeries()[i]
			spilled = spilled || s.spill != nil && p.iface(s) == "a-very-long-interface-name"
		}
	}
	if !spilled {
		t.Error("the out-of-order seed restores no spilled buffer under the long name")
	}
}
