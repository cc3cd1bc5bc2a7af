package engine

import (
	"context"
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// restartAt runs the estate with a state store, stops the engine after the first n scrapes (in
// the middle of a scrape round when n is not a multiple of 3) and starts a new one on the saved
// state for the rest. It returns the events of both engines.
func restartAt(t *testing.T, n int, opts ...func(*Config)) (string, *harness) {
	t.Helper()
	sc := estate()
	store := &memoryStore{}
	h1 := newHarness(t, ratioCSV, append([]func(*Config){streamConfig}, opts...)...)
	h1.e.set.State = store
	h1.e.Start()
	for _, s := range sc[:n] {
		h1.consume(s.metrics())
	}
	h1.e.Shutdown(context.Background())
	if len(store.saved) == 0 {
		t.Fatal("nothing saved at shutdown")
	}
	h2 := newHarness(t, ratioCSV, append([]func(*Config){streamConfig}, opts...)...)
	h2.e.set.State = &memoryStore{entries: store.saved}
	h2.e.Start()
	defer h2.e.Shutdown(context.Background())
	for _, s := range sc[n:] {
		h2.consume(s.metrics())
	}
	h2.e.Flush(context.Background())
	return bodies(append(h1.takeEvents(), h2.takeEvents()...)), h2
}

// TestRestartMidWindowLosesNothing: with a state store, a restart anywhere, also between the
// batches of one scrape round and in the middle of a window, gives exactly the events of an
// uninterrupted run: counters, buffered points, open windows and their texts survive, and the
// shutdown closes no span.
func TestRestartMidWindowLosesNothing(t *testing.T) {
	for _, mode := range []Mode{ModeWindow, ModeImmediate} {
		withMode := func(c *Config) { c.Mode = mode }
		want, _ := run(t, inOrder(estate()), withMode)
		for n := 1; n < len(estate()); n += 7 { // anywhere: before, inside and after each window's peak span
			got, h := restartAt(t, n, withMode)
			if got != want {
				t.Errorf("%s, restart after %d scrapes: events\n%s\nwant\n%s", mode, n, got, want)
			}
			if d := h.drops(); len(d) != 0 {
				t.Errorf("%s, restart after %d scrapes: dropped %v after the restart", mode, n, d)
			}
		}
	}
}

// TestRestartWithoutStorageFlushes: without a state store the shutdown flushes what is complete,
// as before, since the state would be lost anyway.
func TestRestartWithoutStorageFlushes(t *testing.T) {
	h := newHarness(t, ratioCSV)
	h.e.Start()
	h.spans(webPod, 3535, 6, 300, 100)
	h.e.Shutdown(context.Background())
	if ev := mustOneEvent(t, h.takeEvents()); ev.Count != 6 {
		t.Errorf("count = %d, want 6", ev.Count)
	}
}

// savedNode2 is node-2's saved entry after 90 scrapes of the estate and a shutdown.
func savedNode2(t testing.TB) []byte {
	t.Helper()
	store := &memoryStore{}
	h := newHarness(t, ratioCSV, streamConfig)
	h.e.set.State = store
	for _, s := range estate()[:90] {
		h.consume(s.metrics())
	}
	h.e.Shutdown(context.Background())
	good := store.saved["detect/node-2"]
	if good == nil {
		t.Fatalf("no entry for node-2 in %v", keys(store.saved))
	}
	return good
}

// TestRestoreSkipsDamagedAndIncompatibleEntries: one node's entry is damaged, another was saved
// with another span length; each is logged by name, counted and skipped, and the good one is
// restored.
func TestRestoreSkipsDamagedAndIncompatibleEntries(t *testing.T) {
	good := savedNode2(t)
	entries := map[string][]byte{
		"detect/node-1": []byte(`{"format":1,"source":"node-1","span_ns":`), // cut short
		"detect/node-2": good,
		"detect/node-3": []byte(strings.Replace(string(good), `"span_ns":10000000000`, `"span_ns":30000000000`, 1)),
		"detect/node-4": []byte(strings.Replace(string(good), `"name":"web-7c5ddbdf54-q9z7m"`, `"name":"x\r\ny"`, 1)),
		// Times off the span grid: ingest compares point times with them as span boundaries.
		"detect/node-5": offGrid(t, good, "node-5", "swept"),
		"detect/node-6": offGrid(t, good, "node-6", "scored_through"),
		"detect/node-7": podTwice(t, good, "node-7"),
	}
	core, logs := observer.New(zap.InfoLevel)
	h2 := newHarness(t, ratioCSV, streamConfig)
	h2.e.set.Logger = zap.New(core)
	h2.e.set.State = &memoryStore{entries: entries}
	h2.e.Start()
	defer h2.e.Shutdown(context.Background())
	skipped := map[string]string{}
	for _, l := range logs.FilterMessage("Skipping a saved state entry that cannot be restored").All() {
		skipped[l.ContextMap()["entry"].(string)] = l.ContextMap()["error"].(string)
	}
	for _, name := range []string{"detect/node-1", "detect/node-3", "detect/node-4", "detect/node-5", "detect/node-6", "detect/node-7"} {
		if skipped[name] == "" {
			t.Errorf("%s not reported as skipped; skipped: %v", name, skipped)
		}
	}
	if !strings.Contains(skipped["detect/node-3"], "span 30s") {
		t.Errorf("node-3's message %q does not say why", skipped["detect/node-3"])
	}
	if !strings.Contains(skipped["detect/node-5"], "boundaries") || !strings.Contains(skipped["detect/node-6"], "boundaries") {
		t.Errorf("off-grid messages %q, %q do not say why", skipped["detect/node-5"], skipped["detect/node-6"])
	}
	if !strings.Contains(skipped["detect/node-7"], "twice") {
		t.Errorf("node-7's message %q does not say why", skipped["detect/node-7"])
	}
	if n := h2.counter("state_entries_skipped", ""); n != 6 {
		t.Errorf("state_entries_skipped = %d, want 6", n)
	}
	if _, ok := h2.e.sources["node-2"]; !ok || h2.e.pods.len() != 1 {
		t.Errorf("node-2 not restored: %d pods", h2.e.pods.len())
	}
}

// podTwice is a saved entry for source that holds one pod twice.
func podTwice(t *testing.T, entry []byte, source string) []byte {
	t.Helper()
	var st map[string]any
	if err := json.Unmarshal(entry, &st); err != nil {
		t.Fatal(err)
	}
	pods, _ := st["pods"].([]any)
	if len(pods) == 0 {
		t.Fatal("no pods in the saved entry")
	}
	pod, _ := pods[0].(map[string]any)
	pod["uid"], pod["name"] = "uid-twice", "web-7c5ddbdf54-t9z7m" // not node-2's pod: that one is restored
	st["source"], st["pods"] = source, []any{pod, pod}
	out, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// offGrid is a saved entry for source with its first number named field one nanosecond on.
func offGrid(t *testing.T, entry []byte, source, field string) []byte {
	t.Helper()
	entry = []byte(strings.Replace(string(entry), `"source":"node-2"`, `"source":"`+source+`"`, 1))
	re := regexp.MustCompile(`"` + field + `":(\d+)`)
	m := re.FindSubmatch(entry)
	if m == nil {
		t.Fatalf("no %s in the saved entry", field)
	}
	v, _ := strconv.ParseInt(string(m[1]), 10, 64)
	done := false
	return re.ReplaceAllFunc(entry, func(b []byte) []byte {
		if done {
			return b
		}
		done = true
		return []byte(`"` + field + `":` + strconv.FormatInt(v+1, 10))
	})
}

// TestCheckpointPeriodically: the state is saved every checkpoint_interval, not only at shutdown.
func TestCheckpointPeriodically(t *testing.T) {
	store := &syncStore{saved: make(chan map[string][]byte, 1)}
	h := newHarness(t, ratioCSV, func(c *Config) { c.CheckpointInterval = 10 * time.Millisecond })
	h.e.set.State = store
	h.e.Start()
	defer h.e.Shutdown(context.Background())
	h.spans(webPod, 5, 2, 300, 100)
	select {
	case e := <-store.saved:
		if _, ok := e["detect/node-1"]; !ok {
			t.Errorf("checkpoint holds %v, want detect/node-1", keys(e))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no checkpoint within 10 s at a 10 ms interval")
	}
}

type syncStore struct{ saved chan map[string][]byte }

func (s *syncStore) Load(context.Context) (map[string][]byte, error) { return nil, nil }
func (s *syncStore) Save(_ context.Context, e map[string][]byte) error {
	select {
	case s.saved <- e:
	default:
	}
	return nil
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestRestartRecommendedLosesNothing: the recommended profile's per-pod state survives a restart
// too. webPod runs at its usual rates for an hour, then surges inbound x8 for an hour (an event at
// the onset, then the surge is its recent level), then exfiltrates x10 for five minutes (the
// trail). A restart anywhere gives the events of the uninterrupted run.
func TestRestartRecommendedLosesNothing(t *testing.T) {
	var sc []scrape
	in, out := int64(1_000_000), int64(500_000)
	for i := int64(0); i <= 780; i++ {
		r, w := int64(100), int64(50)
		switch {
		case i > 360 && i <= 720:
			r = 800
		case i > 750 && i <= 780:
			w = 500
		}
		if i > 0 {
			in, out = in+10*r, out+10*w
		}
		sc = append(sc, scrape{webPod, 5 + 10*i, in, out})
	}
	feed := func(h *harness, part []scrape) {
		for _, s := range part {
			h.consume(s.metrics())
		}
	}
	h := newHarness(t, profileCSV, recommendedProfile)
	feed(h, sc)
	h.e.Flush(context.Background())
	want := bodies(h.takeEvents())
	if strings.Count(want, "\n") != 2 {
		t.Fatalf("uninterrupted: want the surge's onset and the exfiltration, got\n%s", want)
	}
	for _, n := range []int{100, 365, 380, 400, 725, 755, 760} {
		store := &memoryStore{}
		h1 := newHarness(t, profileCSV, recommendedProfile)
		h1.e.set.State = store
		h1.e.Start()
		feed(h1, sc[:n])
		h1.e.Shutdown(context.Background())
		h2 := newHarness(t, profileCSV, recommendedProfile)
		h2.e.set.State = &memoryStore{entries: store.saved}
		h2.e.Start()
		feed(h2, sc[n:])
		h2.e.Flush(context.Background())
		h2.e.Shutdown(context.Background())
		if got := bodies(append(h1.takeEvents(), h2.takeEvents()...)); got != want {
			t.Errorf("restart after %d scrapes: events\n%s\nwant\n%s", n, got, want)
		}
	}
}

// TestRestartWithMixedKinds: points of one interface sent as a counter, a gauge and deltas wait
// in three series; saved and restored in the middle of a span, they give the uninterrupted sums.
func TestRestartWithMixedKinds(t *testing.T) {
	batches := []pmetric.Metrics{
		newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 5, 1000), ip("eth0", "transmit", 5, 500)).md,
		newMD().add(webPod, gaugeMetric, fp("eth0", "receive", 12, 40)).md,
		newMD().add(webPod, deltaSum, ip("eth0", "receive", 13, 7)).md,
		newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 15, 1100), ip("eth0", "transmit", 15, 530)).md,
		newMD().add(webPod, cumulativeSum, ip("eth0", "receive", 25, 1200), ip("eth0", "transmit", 25, 560)).md,
	}
	want := map[int64][2]float64{10: {147, 30}, 20: {100, 30}}
	for n := 1; n < len(batches); n++ {
		store := &memoryStore{}
		h1 := newHarness(t, ratioCSV, streamConfig)
		h1.e.set.State = store
		for _, md := range batches[:n] {
			h1.consume(md)
		}
		h1.e.Shutdown(context.Background())
		h2 := newHarness(t, ratioCSV, streamConfig)
		h2.e.set.State = &memoryStore{entries: store.saved}
		h2.e.Start()
		for _, md := range batches[n:] {
			h2.consume(md)
		}
		h2.e.Flush(context.Background())
		h2.e.Shutdown(context.Background())
		got := spanSums(t, append(h1.obs.ofPod(webPod.name), h2.obs.ofPod(webPod.name)...))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("restart after %d batches: spans = %v, want %v", n, got, want)
		}
	}
}

// TestRestoreSeriesSplitsKinds: a saved series whose buffer mixes kinds (as one series per
// interface and direction held them before) becomes one series per kind; a buffer out of order
// or a series saved twice is refused.
func TestRestoreSeriesSplitsKinds(t *testing.T) {
	h := newHarness(t, ratioCSV)
	p := newPod("u1", groupKey{cluster: "prod", node: "n1", pod: "web-1", namespace: "default", service: "web"}, newSource("n1", &h.e.cfg))
	ss := seriesState{Interface: "eth0", Inbound: true, Primed: true, Anchor: readingState{Ts: 5, V: 1000},
		Buffer: []readingState{{Ts: 12, V: 40, Kind: gaugePoint}, {Ts: 15, V: 1100, Kind: cumulativePoint}}}
	if err := h.e.restoreSeries(p, ss); err != nil {
		t.Fatal(err)
	}
	if len(p.allSeries()) != 2 || p.pending != 2 {
		t.Fatalf("%d series, %d pending; want 2 and 2", len(p.allSeries()), p.pending)
	}
	for _, s := range p.allSeries() {
		if s.count != 1 || (s.kind == cumulativePoint) != s.primed {
			t.Errorf("series %+v", s)
		}
	}
	if err := h.e.restoreSeries(p, ss); err == nil || !strings.Contains(err.Error(), "saved twice") {
		t.Errorf("second restore: %v, want saved twice", err)
	}
	q := newPod("u2", groupKey{cluster: "prod", node: "n1", pod: "web-2", namespace: "default", service: "web"}, p.src)
	ss.Buffer[0].Ts = 20
	if err := h.e.restoreSeries(q, ss); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("out of order: %v", err)
	}
}

// A saved pod whose last_seen is older than its own points (a damaged or forged entry) is
// restored with last_seen at its newest point: ingest appends a point later than last_seen
// without looking at the buffer, which must then stay in time order.
func TestRestoreRaisesLastSeenToItsPoints(t *testing.T) {
	good := savedNode2(t)
	forged := regexp.MustCompile(`"last_seen":\d+`).ReplaceAll(good, []byte(`"last_seen":1`))
	h2 := newHarness(t, ratioCSV, streamConfig)
	h2.e.set.State = &memoryStore{entries: map[string][]byte{"detect/node-2": forged}}
	h2.e.Start()
	defer h2.e.Shutdown(context.Background())
	h2.e.mu.Lock()
	defer h2.e.mu.Unlock()
	points := 0
	for p := range h2.e.pods.all() {
		for i := range p.allSeries() {
			s := &p.allSeries()[i]
			if s.primed && s.anchor.ts > p.lastSeen {
				t.Errorf("%s: last seen %d before its anchor %d", p.ref, p.lastSeen, s.anchor.ts)
			}
			for r := range s.points() {
				points++
				if r.ts > p.lastSeen {
					t.Errorf("%s: last seen %d before its point at %d", p.ref, p.lastSeen, r.ts)
				}
			}
		}
	}
	if h2.e.pods.len() == 0 || points == 0 {
		t.Fatalf("restored %d pods with %d buffered points: nothing to check", h2.e.pods.len(), points)
	}
}
