package engine

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// Texts for in/out = v with ratioCSV (avg 0.5, stdev 0.125): z = (v - 0.5)/0.125.
const (
	text4 = "inbound:outbound ratio higher than average by 28 Standard Deviations. " + // (4-0.5)/0.125 = 28
		"inbound:outbound=4 avg_inbound:outbound=0.5 'stdev_inbound:outbound'=0.125"
	text13 = "inbound:outbound ratio higher than average by 100 Standard Deviations. " + // (13-0.5)/0.125 = 100
		"inbound:outbound=13 avg_inbound:outbound=0.5 'stdev_inbound:outbound'=0.125"
)

// TestSpanOnWindowBoundary: a point at exactly t0+3600 falls in span [3600,3610), which belongs
// to window [t0+3600, t0+7200); a point one nanosecond earlier falls in span [3590,3600), window
// [t0, t0+3600). Immediate mode with threshold 0 gives one event per anomalous span, with the
// window it was counted in.
func TestSpanOnWindowBoundary(t *testing.T) {
	h := newHarness(t, ratioCSV, immediateAny)
	h.consume(newMD().
		add(webPod, cumulativeSum, ip("eth0", "receive", 3590, 1000), ip("eth0", "transmit", 3590, 1000)).
		add(webPod2, cumulativeSum, ip("eth0", "receive", 3580, 1000), ip("eth0", "transmit", 3580, 1000)).md)
	early := []point{ip("eth0", "receive", 3599, 1300), ip("eth0", "transmit", 3599, 1100)}
	for i := range early {
		early[i].nsec = 999_999_999
	}
	h.consume(newMD().
		add(webPod, cumulativeSum, ip("eth0", "receive", 3600, 1300), ip("eth0", "transmit", 3600, 1100)).
		add(webPod2, cumulativeSum, early...).md)
	h.e.Flush(context.Background()) // newest 3600: span [3600,3610) is complete
	evs := h.takeEvents()
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2: %s", len(evs), describeEvents(evs))
	}
	for _, ev := range evs {
		var wantStart, wantTime int64
		switch ev.Pod {
		case webPod.name:
			wantStart, wantTime = 3600, 3600
		case webPod2.name:
			wantStart, wantTime = 0, 3590
		}
		if !ev.WindowStart.Equal(timeAt(wantStart)) || !ev.WindowEnd.Equal(timeAt(wantStart+3600)) || !ev.Time.Equal(timeAt(wantTime)) {
			t.Errorf("%s: window %s-%s time %s, want window start t0+%d, time t0+%d", ev.Pod,
				ev.WindowStart, ev.WindowEnd, ev.Time, wantStart, wantTime)
		}
	}
}

// sixSpans gives webPod six anomalous spans (webText3) 3530 ... 3580 and closes the last one with
// a scrape at 3595 (no growth: span 3590 has in = out = 0, whose ratios are undefined).
func sixSpans(h *harness) {
	h.spans(webPod, 3525, 6, 300, 100)
	h.feed(3595, traffic{webPod, 0, 0})
}

// TestWindowClosesWhenWatermarkPassesEnd: lateness 30 s: window [t0, t0+3600) closes when the
// newest point is at 3630 (watermark 3600), not at 3629 (watermark 3599).
func TestWindowClosesWhenWatermarkPassesEnd(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Lateness = 30 * time.Second })
	sixSpans(h)
	for _, sec := range []int64{3605, 3615, 3629} {
		h.feed(sec, traffic{webPod, 0, 0})
		if evs := h.takeEvents(); len(evs) != 0 {
			t.Fatalf("event at newest t0+%d (watermark before the window end): %s", sec, describeEvents(evs))
		}
	}
	h.feed(3630, traffic{webPod, 0, 0})
	ev := mustOneEvent(t, h.takeEvents())
	if ev.Count != 6 || !ev.WindowEnd.Equal(timeAt(3600)) || !ev.Time.Equal(timeAt(3600)) {
		t.Errorf("event %s, want count 6, window end and time t0+3600", describeEvents([]Event{ev}))
	}
}

// TestLatenessZero: without lateness the first point at t0+3600 closes the window.
func TestLatenessZero(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Lateness = 0 })
	sixSpans(h)
	h.feed(3599, traffic{webPod, 0, 0})
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Fatalf("event before the window end: %s", describeEvents(evs))
	}
	h.feed(3600, traffic{webPod, 0, 0})
	if ev := mustOneEvent(t, h.takeEvents()); ev.Count != 6 {
		t.Errorf("count = %d, want 6", ev.Count)
	}
}

// TestLatePointsDropped: lateness 0. webPod primes at 5 and grows at 15; fluentdPod on the same
// node primes at 25 (a first point moves no time) and scrapes at 35, which moves the node's
// watermark to 35: spans ending by 30 are scored, webPod's span 10 with in 300, out 100. A webPod
// point at 18 is late (span 10 is scored); one at 28 is not: webPod's span 20 was never scored
// (it had no data), so it is taken, as the backlog of a quiet agent would be, and scored at once
// (its span is behind the watermark) with the increase since 15. A repeated timestamp is dropped
// as a duplicate.
func TestLatePointsDropped(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Lateness = 0 })
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 5, 1000), ip("eth0", "transmit", 5, 1000)).md)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 15, 1300), ip("eth0", "transmit", 15, 1100)).md)
	h.consume(newMD().add(fluentdPod, cumulativeSum, ip("eth0", "receive", 25, 1), ip("eth0", "transmit", 25, 1)).md)
	if got := h.obs.ofPod(webPod.name); len(got) != 0 {
		t.Fatalf("a priming point moved time: %v", got)
	}
	h.consume(newMD().add(fluentdPod, cumulativeSum, ip("eth0", "receive", 35, 2), ip("eth0", "transmit", 35, 2)).md)
	if got := spanSums(t, h.obs.ofPod(webPod.name)); !reflect.DeepEqual(got, map[int64][2]float64{10: {300, 100}}) {
		t.Fatalf("span 10 not scored by the watermark: %v", got)
	}
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 18, 1400), ip("eth0", "transmit", 18, 1200)).md)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 28, 1500), ip("eth0", "transmit", 28, 1300)).md)
	if got := h.drops(); !reflect.DeepEqual(got, map[string]int64{"late": 2}) {
		t.Errorf("dropped = %v, want late 2", got)
	}
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 45, 1600), ip("eth0", "transmit", 45, 1400)).md)
	h.consume(newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 45, 1600)).md)
	if got := h.drops(); !reflect.DeepEqual(got, map[string]int64{"late": 2, "duplicate": 1}) {
		t.Errorf("dropped = %v, want late 2, duplicate 1", got)
	}
	if got := spanSums(t, h.obs.ofPod(webPod.name)); !reflect.DeepEqual(got, map[int64][2]float64{10: {300, 100}, 20: {200, 200}}) {
		t.Errorf("spans = %v, want span 10 with 300/100 and span 20 with 200/200", got)
	}
}

// spansEach primes every pod at t0+5 and then feeds them together every 10 s: pod i gets
// in=300/out=100 for its first n[i] spans (anomalous, webText3) and no growth after, until
// t0+3595, so that every span of the window has been started by a later scrape.
func spansEach(h *harness, pods []podRes, n []int) {
	var tr []traffic
	for _, p := range pods {
		tr = append(tr, traffic{p, 0, 0})
	}
	h.feed(5, tr...)
	for sec := int64(15); sec <= 3595; sec += 10 {
		tr = tr[:0]
		for i, p := range pods {
			if int64(n[i]) >= (sec-5)/10 {
				tr = append(tr, traffic{p, 300, 100})
			} else {
				tr = append(tr, traffic{p, 0, 0})
			}
		}
		h.feed(sec, tr...)
	}
}

// TestCountThreshold: strictly more than count_threshold (5). webPod2 has exactly 5 anomalous
// spans (10 ... 50), webPod has 6 (10 ... 60); the window closes by Flush at newest t0+3595
// (complete through 3600). Only webPod gets an event.
func TestCountThreshold(t *testing.T) {
	h := newHarness(t, ratioCSV)
	spansEach(h, []podRes{webPod, webPod2}, []int{6, 5})
	h.e.Flush(context.Background())
	ev := mustOneEvent(t, h.takeEvents())
	if ev.Pod != webPod.name || ev.Count != 6 || !reflect.DeepEqual(ev.Anomalies, []string{webText3}) {
		t.Errorf("event %s, want %s count 6 with one distinct text", describeEvents([]Event{ev}), webPod.name)
	}
}

// TestCountThresholdConfigured: count_threshold 2: 3 anomalous spans suffice, 2 do not.
func TestCountThresholdConfigured(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.CountThreshold = 2 })
	spansEach(h, []podRes{webPod, webPod2}, []int{3, 2})
	h.e.Flush(context.Background())
	if ev := mustOneEvent(t, h.takeEvents()); ev.Pod != webPod.name || ev.Count != 3 {
		t.Errorf("event %s, want %s count 3", describeEvents([]Event{ev}), webPod.name)
	}
}

// feedRatios primes webPod at t0+5 and then gives span 10k the ratio ins[k-1]/100.
func feedRatios(h *harness, ins ...int64) {
	h.feed(5, traffic{webPod, 0, 0})
	for i, in := range ins {
		h.feed(int64(15+10*i), traffic{webPod, in, 100})
	}
	h.feed(int64(15+10*len(ins)), traffic{webPod, 0, 0})
}

// TestAnomaliesDistinctSorted: six anomalous spans with in/out = 3, 3, 4, 13, 4, 3: count 6,
// three distinct texts with z 20, 28 and 100, sorted by byte value: "by 100" < "by 20" < "by 28"
// (a numeric sort would put 100 last). max_zscore of inbound:outbound is 100.
func TestAnomaliesDistinctSorted(t *testing.T) {
	h := newHarness(t, ratioCSV)
	feedRatios(h, 300, 300, 400, 1300, 400, 300)
	h.feed(3635, traffic{webPod, 0, 0}) // closes the window
	ev := mustOneEvent(t, h.takeEvents())
	if ev.Count != 6 {
		t.Errorf("count = %d, want 6", ev.Count)
	}
	if want := []string{text13, webText3, text4}; !reflect.DeepEqual(ev.Anomalies, want) {
		t.Errorf("anomalies\n got %q\nwant %q", ev.Anomalies, want)
	}
	if z := ev.Body()["max_zscore"]; !reflect.DeepEqual(z, map[string]any{"inbound:outbound": 100.0}) {
		t.Errorf("max_zscore = %v, want inbound:outbound 100", z)
	}
}

// TestMaxAnomalies: with max_anomalies 2 the two smallest texts by byte value are kept
// (z 100 and z 20), whatever order they came in; count still counts every span.
func TestMaxAnomalies(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.MaxAnomalies = 2 })
	feedRatios(h, 400, 300, 400, 400, 1300, 300)
	h.feed(3635, traffic{webPod, 0, 0})
	ev := mustOneEvent(t, h.takeEvents())
	if ev.Count != 6 {
		t.Errorf("count = %d, want 6", ev.Count)
	}
	if want := []string{text13, webText3}; !reflect.DeepEqual(ev.Anomalies, want) {
		t.Errorf("anomalies\n got %q\nwant %q", ev.Anomalies, want)
	}
}

func TestInsertText(t *testing.T) {
	var c windowCount
	for _, s := range []string{"d", "b", "d", "a", "c", "e", "b", "0"} {
		c.insertText(s, 3)
	}
	if want := []string{"0", "a", "b"}; !reflect.DeepEqual(c.anomalies, want) {
		t.Errorf("anomalies = %q, want %q", c.anomalies, want)
	}
}

// TestImmediateMode: threshold 5. Span k is scored when the scrape of span k+10 arrives; the
// sixth anomalous span is span 60, scored at the scrape at t0+75: the event comes then, with
// time t0+60 (the crossing span's start) and count 6. A seventh span and the window's close
// bring no second event. The next window counts afresh and can emit again.
func TestImmediateMode(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Mode = ModeImmediate })
	h.feed(5, traffic{webPod, 0, 0})
	for sec := int64(15); sec <= 65; sec += 10 {
		h.feed(sec, traffic{webPod, 300, 100})
	}
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Fatalf("event after 5 anomalous spans: %s", describeEvents(evs))
	}
	h.feed(75, traffic{webPod, 300, 100})
	ev := mustOneEvent(t, h.takeEvents())
	if ev.Count != 6 || !ev.Time.Equal(timeAt(60)) || !ev.WindowStart.Equal(timeAt(0)) || !ev.WindowEnd.Equal(timeAt(3600)) {
		t.Errorf("event %s, want count 6, time t0+60, window t0..t0+3600", describeEvents([]Event{ev}))
	}
	if !reflect.DeepEqual(ev.Anomalies, []string{webText3}) {
		t.Errorf("anomalies = %q", ev.Anomalies)
	}
	h.feed(85, traffic{webPod, 300, 100}) // span 70 scored: count 7
	h.feed(3635, traffic{webPod, 0, 0})   // span 80 scored: count 8; the window closes
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Fatalf("second event for the same window: %s", describeEvents(evs))
	}
	// Next window: spans 3640 ... 3700 anomalous; the sixth (3690) is scored at 3705.
	for sec := int64(3645); sec <= 3705; sec += 10 {
		h.feed(sec, traffic{webPod, 300, 100})
	}
	ev = mustOneEvent(t, h.takeEvents())
	if !ev.WindowStart.Equal(timeAt(3600)) || ev.Count != 6 || !ev.Time.Equal(timeAt(3690)) {
		t.Errorf("event %s, want window t0+3600, count 6, time t0+3690", describeEvents([]Event{ev}))
	}
}

// TestIdleFlush: lateness 30 s, idle_flush 1 min. The last scrape is at t0+3585 (span 3580 open,
// watermark 3555). Once the node has been quiet for idle_flush, its data time follows the wall
// clock idle_flush behind: 3555 + quiet - 60 s. The window [t0, t0+3600) closes when that reaches
// 3600, i.e. after 105 s of quiet (its end + lateness + idle_flush on the node's clock); at 104 s
// nothing has happened yet.
func TestIdleFlush(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Lateness = 30 * time.Second })
	h.spans(webPod, 3525, 6, 300, 100)
	ctx := context.Background()
	h.e.Tick(ctx)
	h.advanceClock(104 * time.Second)
	h.e.Tick(ctx)
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Fatalf("event before end + lateness + idle_flush: %s", describeEvents(evs))
	}
	h.advanceClock(time.Second)
	h.e.Tick(ctx)
	ev := mustOneEvent(t, h.takeEvents())
	if ev.Count != 6 || !ev.Time.Equal(timeAt(3600)) {
		t.Errorf("event %s, want count 6 at t0+3600", describeEvents([]Event{ev}))
	}
	h.advanceClock(time.Hour)
	h.e.Tick(ctx)
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Errorf("a later Tick emitted again: %s", describeEvents(evs))
	}
}

// TestIdleFlushDisabled: idle_flush 0: Tick never moves data time.
func TestIdleFlushDisabled(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.IdleFlush = 0 })
	h.spans(webPod, 3525, 6, 300, 100)
	h.advanceClock(24 * time.Hour)
	h.e.Tick(context.Background())
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Errorf("event with idle_flush 0: %s", describeEvents(evs))
	}
}

// TestIdleFlushRestartsWithData: data arriving resets the idle clock: 50 s idle, a scrape, 50 s
// idle again: no flush yet although 100 s passed since the first scrape.
func TestIdleFlushRestartsWithData(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.spans(webPod, 3525, 6, 300, 100)
	h.advanceClock(50 * time.Second)
	h.e.Tick(context.Background())
	h.feed(3586, traffic{webPod, 0, 0})
	h.advanceClock(50 * time.Second)
	h.e.Tick(context.Background())
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Errorf("flushed although data came 50 s ago: %s", describeEvents(evs))
	}
}

// TestFlushWindowStillOpen: newest point t0+3585: Flush completes span 3580 (count 6) but the
// window [t0, t0+3600) is still open in data time: no event. The count is kept: a later scrape
// at 3635 closes the window and emits it.
func TestFlushWindowStillOpen(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.spans(webPod, 3525, 6, 300, 100)
	h.e.Flush(context.Background())
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Fatalf("Flush emitted an open window: %s", describeEvents(evs))
	}
	if s := h.obs.ofPod(webPod.name); len(s) != 6 {
		t.Errorf("%d spans scored by Flush, want 6 (the newest span counts as complete)", len(s))
	}
	h.feed(3635, traffic{webPod, 0, 0})
	if ev := mustOneEvent(t, h.takeEvents()); ev.Count != 6 {
		t.Errorf("count = %d, want 6", ev.Count)
	}
}

// TestFlushWindowEndingAtNewestSpan: newest point t0+3595: Flush completes span 3590, which is
// the window's last span (6 anomalous spans 3540 ... 3590), so the window ending at 3600 closes.
func TestFlushWindowEndingAtNewestSpan(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.spans(webPod, 3535, 6, 300, 100)
	h.e.Flush(context.Background())
	ev := mustOneEvent(t, h.takeEvents())
	if ev.Count != 6 || !ev.WindowEnd.Equal(timeAt(3600)) {
		t.Errorf("event %s, want count 6 ending t0+3600", describeEvents([]Event{ev}))
	}
}

// TestShutdownFlushes: Start then Shutdown stops the loop and flushes like Flush.
func TestShutdownFlushes(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.e.Start()
	h.spans(webPod, 3535, 6, 300, 100)
	h.e.Shutdown(context.Background())
	if ev := mustOneEvent(t, h.takeEvents()); ev.Count != 6 {
		t.Errorf("count = %d, want 6", ev.Count)
	}
	h.e.Shutdown(context.Background()) // a second Shutdown must not panic
}

// TestWindowLengthConfigured: window 1 min: spans 10 ... 60 of webPod. Spans 10..50 are in window
// [t0, t0+60) (5 spans), span 60 in the next: with threshold 4, one event for window t0.
func TestWindowLengthConfigured(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Window, c.CountThreshold = time.Minute, 4 })
	h.spans(webPod, 5, 6, 300, 100)
	h.feed(75, traffic{webPod, 0, 0})
	h.feed(135, traffic{webPod, 0, 0})
	ev := mustOneEvent(t, h.takeEvents())
	if ev.Count != 5 || !ev.WindowStart.Equal(timeAt(0)) || !ev.WindowEnd.Equal(timeAt(60)) {
		t.Errorf("event %s, want count 5 for window t0..t0+60", describeEvents([]Event{ev}))
	}
}

// TestSpansScoredCountedOnFlushAndTick: spans scored by Flush or by the idle flush show in the
// spans_scored / spans_anomalous telemetry right away (at shutdown there is no later batch that
// would record them).
func TestSpansScoredCountedOnFlushAndTick(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.spans(webPod, 5, 1, 300, 100) // span 10 open
	h.e.Flush(context.Background())
	if n := h.counter("spans_scored", ""); n != 1 {
		t.Errorf("after Flush: spans_scored = %d, want 1", n)
	}
	if n := h.counter("spans_anomalous", ""); n != 1 {
		t.Errorf("after Flush: spans_anomalous = %d, want 1", n)
	}

	h2 := newHarness(t, ratioCSV)
	h2.spans(webPod, 5, 1, 300, 100)
	h2.advanceClock(65 * time.Second)
	h2.e.Tick(context.Background()) // watermark 15 + 65 - 60 = 20: span 10 is scored
	if len(h2.obs.ofPod(webPod.name)) != 1 {
		t.Fatal("Tick did not score span 10")
	}
	if n := h2.counter("spans_scored", ""); n != 1 {
		t.Errorf("after Tick: spans_scored = %d, want 1", n)
	}
}
