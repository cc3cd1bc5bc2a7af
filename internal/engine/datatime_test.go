package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// scrape is one kubeletstats batch of one pod: cumulative eth0 counters at t0+sec.
type scrape struct {
	pod     podRes
	sec     int64
	in, out int64 // the counters' values
}

func (s scrape) metrics() pmetric.Metrics {
	return newMD().add(s.pod, cumulativeSum, ip("eth0", "receive", s.sec, s.in), ip("eth0", "transmit", s.sec, s.out)).md
}

// estate scripts three pods on two nodes scraped every 10 s from t0+5 for 20 minutes: webPod
// (node-1) sends 3:1 to 3.8:1 in minutes 2-5 and 0.5:1 otherwise, webPod2 (node-2) 3:1 in minutes 8-12
// with every third span normal, fluentdPod (node-1) 0.5:1 throughout.
func estate() []scrape {
	var out []scrape
	tot := map[string]*[2]int64{}
	for sec := int64(5); sec <= 1205; sec += 10 {
		min := sec / 60
		for _, p := range []podRes{webPod, webPod2, fluentdPod} {
			in, out2 := int64(50), int64(100)
			switch {
			case p == webPod && min >= 2 && min <= 5,
				p == webPod2 && min >= 8 && min <= 12 && sec%30 != 5:
				in = 300 + 20*(sec/10%5) // spans differ, so the window's peak span is one of them
			}
			t := tot[p.uid]
			if t == nil {
				t = &[2]int64{1_000_000, 500_000}
				tot[p.uid] = t
			}
			t[0] += in
			t[1] += out2
			out = append(out, scrape{pod: p, sec: sec, in: t[0], out: t[1]})
		}
	}
	return out
}

// streamConfig: 1-minute windows, an event for more than 3 anomalous spans, 30 s lateness.
func streamConfig(c *Config) {
	c.Window, c.CountThreshold, c.Lateness = time.Minute, 3, 30*time.Second
}

// run feeds batches in the given order, flushes and returns the events as text.
func run(t *testing.T, batches []pmetric.Metrics, opts ...func(*Config)) (string, *harness) {
	return runWith(t, batches, false, opts...)
}

// runWith is run, without a wall clock when replay is set.
func runWith(t *testing.T, batches []pmetric.Metrics, replay bool, opts ...func(*Config)) (string, *harness) {
	t.Helper()
	h := newHarness(t, ratioCSV, append([]func(*Config){streamConfig}, opts...)...)
	h.e.set.DataTimeOnly = replay
	for _, md := range batches {
		h.consume(md)
	}
	h.e.Flush(context.Background())
	return bodies(h.takeEvents()), h
}

// bodies prints events whole, as the HEC exporter would send them (the peer context included),
// one per line, with their record time.
func bodies(evs []Event) string {
	var b strings.Builder
	for i := range evs {
		j, _ := json.Marshal(evs[i].Body())
		fmt.Fprintf(&b, "%s %s\n", evs[i].Time.Format(time.RFC3339), j)
	}
	return b.String()
}

func inOrder(sc []scrape) []pmetric.Metrics {
	out := make([]pmetric.Metrics, len(sc))
	for i, s := range sc {
		out[i] = s.metrics()
	}
	return out
}

// TestEstateHasEvents makes sure the comparisons below compare something.
func TestEstateHasEvents(t *testing.T) {
	evs, _ := run(t, inOrder(estate()))
	if evs == "" {
		t.Fatal("the scripted estate makes no events")
	}
}

// TestReorderedDeliveryGivesSameEvents: several exporter queue consumers let batches overtake
// each other by a few seconds. Within lateness (30 s), every order must give the events and the
// spans of in-order delivery, and drop nothing.
func TestReorderedDeliveryGivesSameEvents(t *testing.T) {
	sc := estate()
	want, hIn := run(t, inOrder(sc))
	wantSpans := hIn.obs.all()
	for seed := int64(1); seed <= 5; seed++ {
		rng := rand.New(rand.NewSource(seed))
		type delivery struct {
			at int64
			s  scrape
		}
		ds := make([]delivery, len(sc))
		for i, s := range sc {
			ds[i] = delivery{at: s.sec*1000 + rng.Int63n(20_000), s: s} // up to 20 s late
		}
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].at < ds[j].at })
		batches := make([]pmetric.Metrics, len(ds))
		moved := 0
		for i, d := range ds {
			batches[i] = d.s.metrics()
			if d.s != sc[i] {
				moved++
			}
		}
		if moved == 0 {
			t.Fatalf("seed %d: nothing reordered", seed)
		}
		got, h := run(t, batches)
		if got != want {
			t.Errorf("seed %d (%d batches out of place): events\n%s\nwant\n%s", seed, moved, got, want)
		}
		if d := h.drops(); len(d) != 0 {
			t.Errorf("seed %d: dropped %v, want nothing", seed, d)
		}
		if !sameSpans(h.obs.all(), wantSpans) {
			t.Errorf("seed %d: spans differ from in-order delivery", seed)
		}
	}
}

func sameSpans(a, b []observedSpan) bool {
	key := func(s []observedSpan) []observedSpan {
		c := append([]observedSpan(nil), s...)
		sort.Slice(c, func(i, j int) bool {
			if c[i].pod != c[j].pod {
				return c[i].pod < c[j].pod
			}
			return c[i].sec < c[j].sec
		})
		return c
	}
	return reflect.DeepEqual(key(a), key(b))
}

// TestReorderedWithinOneSeries: a pod's scrapes at 15 and 25 arrive before the one at 5 and the
// one at 35: the increases are taken in time order, so span 10 gets 15-5 and span 20 gets 25-15.
func TestReorderedWithinOneSeries(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Lateness = 30 * time.Second })
	sc := []scrape{{webPod, 5, 1000, 1000}, {webPod, 15, 1300, 1100}, {webPod, 25, 1400, 1300}, {webPod, 35, 1500, 1400}}
	for _, i := range []int{1, 2, 0, 3} {
		h.consume(sc[i].metrics())
	}
	h.e.Flush(context.Background())
	want := map[int64][2]float64{10: {300, 100}, 20: {100, 200}, 30: {100, 100}}
	if got := spanSums(t, h.obs.ofPod(webPod.name)); !reflect.DeepEqual(got, want) {
		t.Errorf("spans %v, want %v", got, want)
	}
}

// TestBacklogSpansKeepTheirPoints: when one sweep closes several spans of a pod whose series'
// oldest points lie in different spans (receive at 5, 15 and 25; transmit at 5 and 25 only), each
// span gets its own points: span 10 receive's 15-5 alone, span 20 receive's 25-15 and transmit's
// 25-5, not one span with everything up to 25.
func TestBacklogSpansKeepTheirPoints(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Lateness = 30 * time.Second })
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 5, 1000), ip("eth0", "transmit", 5, 1000)).md)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 15, 1300)).md)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 25, 1400), ip("eth0", "transmit", 25, 1300)).md)
	if n := len(h.obs.ofPod(webPod.name)); n != 0 {
		t.Fatalf("%d spans observed before the watermark passed them", n)
	}
	// The watermark moves to 35: spans 0, 10 and 20 close in this batch's sweep.
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 65, 1500), ip("eth0", "transmit", 65, 1400)).md)
	type span struct {
		sec           int64
		in, out       float64
		hasIn, hasOut bool
	}
	var got []span
	for _, s := range h.obs.ofPod(webPod.name) {
		got = append(got, span{s.sec, s.in, s.out, s.hasIn, s.hasOut})
	}
	want := []span{{10, 300, 0, true, false}, {20, 100, 300, true, true}} // span 0 only primed
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spans %+v, want %+v", got, want)
	}
}

// evilBatch is one request for a made-up pod on webPod's own node at ts.
func evilBatch(ts int64) pmetric.Metrics {
	md := newMD().add(podRes{uid: "evil", name: "evil-zzzzz", namespace: "default", cluster: "prod", node: "node-1"},
		cumulativeSum, ip("eth0", "receive", 0, 1), ip("eth0", "transmit", 0, 1)).md
	dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).Sum().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		dps.At(i).SetTimestamp(pcommon.Timestamp(ts))
	}
	return md
}

// TestFuturePointCannotBlindOthers: one request with a far-future timestamp, on the victim's own
// node, must not change any event: live it is ahead of the wall clock (the harness clock is
// 2030-01-01) and dropped as future, both as a new pod's first point and as a later one.
func TestFuturePointCannotBlindOthers(t *testing.T) {
	sc := estate()
	want, _ := run(t, inOrder(sc))
	wall := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for name, ts := range map[string]int64{
		"year 2200": 7258118400000000000, "int64 max": math.MaxInt64, "wall clock + 1 h": wall + int64(time.Hour),
		"wall clock + 6 min": wall + int64(6*time.Minute),
	} {
		t.Run(name, func(t *testing.T) {
			batches := inOrder(sc)
			mid := len(batches) / 2
			// Twice: the first is the evil pod's priming point, the second would be an increase.
			batches = append(batches[:mid:mid], append([]pmetric.Metrics{evilBatch(ts), evilBatch(ts)}, batches[mid:]...)...)
			got, h := run(t, batches)
			if got != want {
				t.Errorf("events\n%s\nwant\n%s", got, want)
			}
			if d := h.drops(); !reflect.DeepEqual(d, map[string]int64{"future": 4}) {
				t.Errorf("dropped %v, want future 4", d)
			}
		})
	}
}

// TestFuturePointInReplay: without a wall clock, a point more than max_clock_skew ahead of its
// node's data time is dropped as future, and one pod alone cannot make the node jump there.
func TestFuturePointInReplay(t *testing.T) {
	sc := estate()
	want, _ := runWith(t, inOrder(sc), true)
	batches := inOrder(sc)
	mid := len(batches) / 2
	batches = append(batches[:mid:mid], append([]pmetric.Metrics{evilBatch(7258118400000000000), evilBatch(7258118400000000001)}, batches[mid:]...)...)
	got, h := runWith(t, batches, true)
	if got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
	if d := h.drops(); !reflect.DeepEqual(d, map[string]int64{"future": 4}) {
		t.Errorf("dropped %v, want future 4", d)
	}
}

// TestReplayGapResumes: a recording with a 20-minute gap on a node: the first point after the
// gap is more than max_clock_skew ahead and held back as a candidate; a second pod of the node
// confirms the jump, and data time resumes. Only one scrape of one pod is lost to the gap.
func TestReplayGapResumes(t *testing.T) {
	h := newHarness(t, ratioCSV, streamConfig)
	h.e.set.DataTimeOnly = true
	for _, s := range estate() {
		if s.sec < 300 || s.sec >= 1500 {
			h.consume(s.metrics())
		}
	}
	// Resume after the gap: both node-1 pods again, later.
	tot := map[string]int64{webPod.uid: 5_000_000, fluentdPod.uid: 5_000_000}
	for sec := int64(1505); sec <= 1605; sec += 10 {
		for _, p := range []podRes{webPod, fluentdPod} {
			tot[p.uid] += 300
			h.consume(scrape{p, sec, tot[p.uid], tot[p.uid] / 3}.metrics())
		}
	}
	h.e.Flush(context.Background())
	if d := h.drops(); !reflect.DeepEqual(d, map[string]int64{"future": 2}) {
		t.Errorf("dropped %v, want future 2 (webPod's first scrape after the gap, 2 points)", d)
	}
	var after int
	for _, s := range h.obs.ofPod(fluentdPod.name) {
		if s.sec >= 1500 {
			after++
		}
	}
	if after < 9 {
		t.Errorf("%d fluentd spans after the gap, want its spans 1510 ... 1600 scored", after)
	}
}

// TestBacklogAfterQuietKept: node-1's agent cannot deliver for 3 minutes (the wall clock goes on,
// the idle flush ticks), then sends its backlog in order. Nothing whose window is still open is
// lost: with 1-hour windows the events equal those of uninterrupted delivery, and nothing is late.
func TestBacklogAfterQuietKept(t *testing.T) {
	for name, quiet := range map[string]func(podRes) bool{
		"one node":   func(p podRes) bool { return p.node == "node-1" },
		"every node": func(podRes) bool { return true }, // the idle flush moves data time meanwhile
	} {
		t.Run(name, func(t *testing.T) { testBacklog(t, quiet) })
	}
}

func testBacklog(t *testing.T, quiet func(podRes) bool) {
	hour := func(c *Config) { c.Window = time.Hour }
	sc := estate()
	want, _ := run(t, inOrder(sc), hour)

	h := newHarness(t, ratioCSV, streamConfig, hour)
	ctx := context.Background()
	var backlog []scrape
	for _, s := range sc {
		h.advanceClock(time.Second) // every scrape round takes its time on the wall clock
		if quiet(s.pod) && s.sec >= 300 && s.sec < 480 {
			backlog = append(backlog, s)
			h.advanceClock(2 * time.Second)
			h.e.Tick(ctx)
			continue
		}
		if len(backlog) > 0 && s.sec >= 480 {
			for _, b := range backlog {
				h.consume(b.metrics())
			}
			backlog = nil
		}
		h.consume(s.metrics())
	}
	h.e.Flush(ctx)
	if got := bodies(h.takeEvents()); got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
	if d := h.drops(); len(d) != 0 {
		t.Errorf("dropped %v, want nothing", d)
	}
}

// TestIdleSourceDoesNotHoldOthers: node-2 stops; node-1's windows still close on node-1's data.
func TestIdleSourceDoesNotHoldOthers(t *testing.T) {
	h := newHarness(t, ratioCSV, streamConfig, func(c *Config) { c.IdleFlush, c.Lateness = 0, 0 })
	h.spans(webPod2, 5, 1, 50, 100) // node-2 stops at 15
	h.spans(webPod, 5, 6, 300, 100) // node-1 six anomalous spans 10 ... 60
	h.feed(75, traffic{webPod, 0, 0})
	if len(h.takeEvents()) != 1 {
		t.Error("node-1's window [0, 60) did not close while node-2 is silent")
	}
}

// TestSecondSourceClockIsItsOwn: node-2's clock is 10 minutes behind node-1's (still in the past
// of the wall clock): its points are not late, and its window closes on its own data time.
func TestSecondSourceClockIsItsOwn(t *testing.T) {
	h := newHarness(t, ratioCSV, streamConfig)
	h.spans(webPod, 605, 20, 50, 100)
	h.spans(webPod2, 5, 6, 300, 100)
	h.feed(105, traffic{webPod2, 0, 0})
	if d := h.drops(); len(d) != 0 {
		t.Errorf("dropped %v on the slow node", d)
	}
	ev := mustOneEvent(t, h.takeEvents())
	if ev.Pod != webPod2.name || ev.Count != 5 {
		t.Errorf("event %s, want webPod2 count 5 in window [0, 60)", describeEvents([]Event{ev}))
	}
}

// TestInterfacesCapped: one request with 40 000 interfaces for one pod keeps at most
// limits.max_interfaces of them (x 2 directions); the rest are dropped as series_limit.
func TestInterfacesCapped(t *testing.T) {
	h := newHarness(t, ratioCSV)
	var pts []point
	for i := 0; i < 40000; i++ {
		pts = append(pts, ip("if"+itoa(i), "receive", 5, 1), ip("if"+itoa(i), "transmit", 5, 1))
	}
	h.consume(newMD().add(webPod, cumulativeSum, pts...).md)
	if d := h.drops(); d["series_limit"] != 80000-32 || len(d) != 1 {
		t.Errorf("dropped %v, want series_limit %d", d, 80000-32)
	}
	p := h.e.pods.find(webPod.uid, "", "", "")
	if len(p.allSeries()) != 32 || p.extra == nil || len(p.extra.index) != 32 {
		t.Errorf("%d series, want 32 looked up in a map", len(p.allSeries()))
	}
	if s := p.seriesFor("if7", true, cumulativePoint, 32); s == nil || p.iface(s) != "if7" || !s.inbound {
		t.Errorf("lookup of if7 receive gave %+v", s)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
