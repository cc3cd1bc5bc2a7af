package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/k8snetio/k8snetioanomaly/internal/learn"
)

const searchHeader = "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen"

func learnInto(path string) func(*Config) {
	return func(c *Config) {
		c.Learn = LearnConfig{Enabled: true, Path: path, WriteInterval: time.Minute, Days: 30, MinCount: 1}
	}
}

// TestLearnThenDetectWithoutRestart: with learn.path = baseline.path the engine starts on a
// missing file (nothing scores), writes what it learned, and scores against it after the
// next reload, without a restart.
func TestLearnThenDetectWithoutRestart(t *testing.T) {
	learned := filepath.Join(t.TempDir(), "learned.csv")
	h := newHarness(t, ratioCSV, func(c *Config) { c.Baseline.Path, c.Lateness = learned, 30*time.Second }, learnInto(learned), immediateAny)
	if n := h.e.Baseline().Len(); n != 0 {
		t.Fatalf("baseline keys before anything was learned = %d, want 0", n)
	}
	// fluentd's 30:1 spans would flag under any sensible baseline; with none, nothing flags.
	h.feed(5, traffic{webPod, 0, 0}, traffic{fluentdPod, 0, 0})
	for i := int64(1); i <= 8; i++ {
		in := int64(300)
		if i%2 == 0 {
			in = 400
		}
		// web: inbound:outbound alternates 3 and 4, so mean 3.5 and a stdev of about 0.53.
		h.feed(5+10*i, traffic{webPod, in, 100}, traffic{fluentdPod, 3000, 100})
	}
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Fatalf("events before a baseline exists: %s", describeEvents(evs))
	}
	ctx := context.Background()
	if err := h.e.WriteLearned(ctx); err != nil {
		t.Fatalf("WriteLearned: %v", err)
	}
	data, err := os.ReadFile(learned)
	if err != nil {
		t.Fatal(err)
	}
	if header := strings.SplitN(string(data), "\n", 2)[0]; header != searchHeader {
		t.Fatalf("learned header %q, want the search's %q", header, searchHeader)
	}
	if err := h.e.ReloadBaseline(ctx); err != nil {
		t.Fatalf("ReloadBaseline: %v", err)
	}
	if _, ok := h.e.Baseline().Lookup("prod:web"); !ok {
		t.Fatalf("learned key prod:web not in the reloaded baseline:\n%s", data)
	}
	// The last feed was at 85 s, so with 30 s lateness the sweep reached 50 s and the learner
	// folded the spans starting before 40 s: 3, 4, 3, mean 10/3, sample stdev sqrt(1/3).
	// 3000/100 = 30 is far above 10/3 + 4 x 0.577.
	h.feed(95, traffic{webPod, 3000, 100})
	h.feed(135, traffic{webPod, 300, 100}) // the watermark passes span 90's end
	ev := mustOneEvent(t, h.takeEvents())
	if ev.Pod != webPod.name || len(ev.Anomalies) != 1 || !strings.HasPrefix(ev.Anomalies[0], "inbound:outbound ratio higher than average by ") ||
		!strings.Contains(ev.Anomalies[0], " inbound:outbound=30 avg_inbound:outbound=3.3333333333333335 'stdev_inbound:outbound'=0.5773502691896258") {
		t.Fatalf("event %s, want web's inbound:outbound=30 against the learned avg 10/3", describeEvents([]Event{ev}))
	}
}

// TestLearnWriteFailureKeepsDetecting: an unwritable learn.path is reported and counted, and
// scoring goes on against the baseline in use.
func TestLearnWriteFailureKeepsDetecting(t *testing.T) {
	blocker := writeFile(t, t.TempDir(), "not-a-dir", "x")
	out := filepath.Join(blocker, "learned.csv")
	h := newHarness(t, ratioCSV, learnInto(out), immediateAny)
	h.feed(5, traffic{webPod, 0, 0})
	h.feed(15, traffic{webPod, 300, 100})
	h.feed(25, traffic{webPod, 300, 100})
	if evs := h.takeEvents(); len(evs) != 1 {
		t.Fatalf("want the first event before the write, got %s", describeEvents(evs))
	}
	err := h.e.WriteLearned(context.Background())
	if err == nil || !strings.Contains(err.Error(), out) {
		t.Fatalf("WriteLearned error %v, want one naming %s", err, out)
	}
	if got := h.counter("learn_write_failures", ""); got != 1 {
		t.Errorf("learn_write_failures = %d, want 1", got)
	}
	h.feed(35, traffic{webPod, 300, 100})
	h.feed(45, traffic{webPod, 300, 100})
	if got := h.counter("spans_anomalous", ""); got < 3 {
		t.Errorf("spans_anomalous = %d after the failed write, want scoring to go on (>= 3)", got)
	}
}

// memoryStore is a StateStore in memory.
type memoryStore struct {
	entries map[string][]byte
	saved   map[string][]byte
	loadErr error
}

func (m *memoryStore) Load(context.Context) (map[string][]byte, error) { return m.entries, m.loadErr }
func (m *memoryStore) Save(_ context.Context, e map[string][]byte) error {
	m.saved = e
	return nil
}

// TestLearnStateRestoreSkipsDamagedEntry: a damaged day is logged by name and skipped, the
// good day is restored, and shutdown saves the state again.
func TestLearnStateRestoreSkipsDamagedEntry(t *testing.T) {
	span := time.Unix(1_699_000_000, 0).UTC()
	prev := learn.New(learn.Config{})
	prev.Observe("prod:web", "default/web-1", span, 300, 100, true, true)
	prev.Observe("prod:web", "default/web-1", span.Add(10*time.Second), 400, 100, true, true)
	prev.Advance(span.Add(time.Minute))
	prev.Flush()
	days, err := prev.MarshalDays()
	if err != nil || len(days) != 1 {
		t.Fatalf("MarshalDays = %v, %v", days, err)
	}
	store := &memoryStore{entries: map[string][]byte{"day/2023-11-01": []byte("{not json")}}
	for name, data := range days {
		store.entries[name] = data
	}
	core, logs := observer.New(zap.InfoLevel)
	dir := t.TempDir()
	cfg := testConfig(writeFile(t, dir, "baseline.csv", ratioCSV))
	learnInto(filepath.Join(dir, "learned.csv"))(&cfg)
	e, err := New(cfg, Settings{Logger: zap.New(core), Emit: func(context.Context, []Event) {}, State: store})
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	e.Shutdown(context.Background())
	damaged := logs.FilterMessage("Skipping a saved state entry that cannot be restored").All()
	if len(damaged) != 1 || damaged[0].ContextMap()["entry"] != "day/2023-11-01" {
		t.Fatalf("want one log naming day/2023-11-01, got %v", damaged)
	}
	row := e.Learner().Table().Rows["prod:web"]
	if row == nil || row.Count != 2 {
		t.Fatalf("restored row %+v, want prod:web with count 2", row)
	}
	if len(store.saved) != 1 {
		t.Fatalf("saved %d entries at shutdown, want the one good day", len(store.saved))
	}
	data, err := os.ReadFile(filepath.Join(dir, "learned.csv"))
	if err != nil || !strings.Contains(string(data), "\nprod:web,") {
		t.Fatalf("learned file at shutdown: %q, %v", data, err)
	}
}

// TestLearnStateLoadFailureStartsAfresh: a storage error is logged and learning starts empty.
func TestLearnStateLoadFailureStartsAfresh(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	dir := t.TempDir()
	cfg := testConfig(writeFile(t, dir, "baseline.csv", ratioCSV))
	learnInto(filepath.Join(dir, "learned.csv"))(&cfg)
	store := &memoryStore{loadErr: errors.New("disk on fire")}
	e, err := New(cfg, Settings{Logger: zap.New(core), Emit: func(context.Context, []Event) {}, State: store})
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	e.Shutdown(context.Background())
	if n := logs.FilterMessage("Cannot load the saved state; starting afresh").Len(); n != 1 {
		t.Fatalf("load failure logged %d times, want 1", n)
	}
}

// TestObserverAdvancesWithTheSlowestNode: the learner is told a span is complete once every node
// has scored it. Batches come one node at a time and node-3 lags a round behind; after every
// batch the learner's mark must be the slowest node's, also when the batch only moved a node
// ahead of it (the engine then skips the scan over the nodes) and when the lagging node is
// forgotten (then the others' minimum counts).
func TestObserverAdvancesWithTheSlowestNode(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Lateness = 0 })
	pods := []podRes{
		{uid: "u1", name: "web-7c5ddbdf54-aaaaa", namespace: "default", cluster: "prod", node: "node-1"},
		{uid: "u2", name: "web-7c5ddbdf54-bbbbb", namespace: "default", cluster: "prod", node: "node-2"},
		{uid: "u3", name: "web-7c5ddbdf54-ccccc", namespace: "default", cluster: "prod", node: "node-3"},
	}
	batch := func(p podRes, sec int64) pmetric.Metrics {
		v := 1000 * sec
		return newMD().add(p, cumulativeSum, ip("eth0", "receive", sec, v), ip("eth0", "transmit", sec, v)).md
	}
	// The mark only moves on: a node that was not seen yet (its first point only primes) does not
	// hold back what the others had already completed.
	var want int64
	check := func(when string) {
		t.Helper()
		slowest := int64(math.MaxInt64)
		for _, src := range h.e.sources {
			if src.seen {
				slowest = min(slowest, src.swept)
			}
		}
		if slowest == math.MaxInt64 { // only first points so far: nothing is complete
			if len(h.obs.advanced) != 0 {
				t.Fatalf("%s: learner advanced to %v before any node had time", when, h.obs.advanced)
			}
			return
		}
		want = max(want, slowest)
		if n := len(h.obs.advanced); n == 0 || h.obs.advanced[n-1].UnixNano() != want {
			t.Fatalf("%s: learner advanced to %v, want %v", when, h.obs.advanced, time.Unix(0, want).UTC())
		}
	}
	for round := int64(1); round <= 6; round++ {
		sec := 10*round + 5
		for i, p := range pods {
			if i == 2 {
				if round == 1 {
					continue
				}
				sec -= 10 // a round late
			}
			h.consume(batch(p, sec))
			check(fmt.Sprintf("round %d, %s", round, p.node))
		}
	}
	// node-3 goes quiet and is forgotten: the others' minimum counts.
	h.e.forgetSource(h.e.sources["node-3"])
	h.consume(batch(pods[0], 75))
	h.consume(batch(pods[1], 75))
	check("after node-3 is forgotten")
	if got := h.obs.advanced[len(h.obs.advanced)-1]; got != timeAt(70) {
		t.Errorf("learner at %v after node-3 left, want %v", got, timeAt(70))
	}
}
