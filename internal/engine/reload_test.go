package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

// ratioCSVB differs from ratioCSV in prod:web's avg_inbound:outbound (0.25) and has a fourth key.
const ratioCSVB = "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen\n" +
	"prod:web,0.25,2,0.125,0.5,8640,1700000000\n" +
	"prod:fluentd,0.5,2,0.125,0.5,8640,1700000000\n" +
	"prod:web-0,0.5,2,0.125,0.5,8640,1700000000\n" +
	"prod:api,0.5,2,0.125,0.5,8640,1700000000\n"

// webText3B is webText3 scored against ratioCSVB: z = (3 - 0.25)/0.125 = 22.
const webText3B = "inbound:outbound ratio higher than average by 22 Standard Deviations. " +
	"inbound:outbound=3 avg_inbound:outbound=0.25 'stdev_inbound:outbound'=0.125"

// brokenCSV has a non-number on line 3, column 2.
const brokenCSV = "key,avg_inbound:outbound,stdev_inbound:outbound\nprod:web,0.5,0.125\nprod:api,abc,0.1\n"

// podFeeder builds one pod's kubeletstats batches on its own, for use from a goroutine.
type podFeeder struct {
	pod    podRes
	rx, tx int64
}

func (f *podFeeder) batch(sec, in, out int64) pmetric.Metrics {
	f.rx += in
	f.tx += out
	return newMD().add(f.pod, cumulativeSum, ip("eth0", "receive", sec, f.rx), ip("eth0", "transmit", sec, f.tx)).md
}

// TestReloadDuringTraffic: four goroutines feed pods of service web (in/out = 3 every span)
// while another rewrites the baseline between ratioCSV and ratioCSVB and reloads it, and another
// ticks. Every span text must be the one of a whole file (webText3 or webText3B): nothing is
// scored against half a file. Afterwards, deterministically: after a reload to ratioCSVB a span
// scores with avg 0.25, and a broken replacement is refused with file and line, and the old
// baseline stays.
func TestReloadDuringTraffic(t *testing.T) {
	h := newHarness(t, ratioCSV, immediateAny)
	ctx := context.Background()
	const feeders, scrapes = 4, 60
	var wg sync.WaitGroup
	for g := 0; g < feeders; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			f := &podFeeder{pod: podRes{uid: fmt.Sprintf("uid-g%d", g), name: fmt.Sprintf("web-7c5ddbdf54-g%04d", g),
				namespace: "default", cluster: "prod", node: "node-1"}}
			for k := int64(0); k < scrapes; k++ {
				h.e.ConsumeMetrics(ctx, f.batch(5+10*k, 300, 100))
			}
		}(g)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 30; i++ {
			content := ratioCSV
			if i%2 == 0 {
				content = ratioCSVB
			}
			replaceFile(t, h.path, content)
			if err := h.e.ReloadBaseline(ctx); err != nil {
				t.Errorf("reload %d: %v", i, err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			h.e.Tick(ctx)
			if h.e.Baseline().Len() == 0 {
				t.Error("empty baseline seen")
			}
		}
	}()
	wg.Wait()

	concurrent := h.takeEvents()
	if len(concurrent) == 0 {
		t.Error("no event during the concurrent part")
	}
	for _, ev := range concurrent {
		for _, a := range ev.Anomalies {
			if a != webText3 && a != webText3B {
				t.Errorf("span scored against neither whole baseline: %q", a)
			}
		}
	}

	// Deterministic part: data time continues after the goroutines' last scrape (t0+595).
	replaceFile(t, h.path, ratioCSVB)
	if err := h.e.ReloadBaseline(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.gauge("baseline_keys"); n != 4 {
		t.Errorf("baseline_keys = %d, want 4", n)
	}
	last := podRes{uid: "uid-last", name: "web-7c5ddbdf54-zzzzz", namespace: "default", cluster: "prod", node: "node-1"}
	h.spans(last, 605, 2, 300, 100) // span 610 scored at the scrape at 625
	lastTexts := func() []string {
		var out []string
		for _, ev := range h.takeEvents() {
			if ev.Pod == last.name {
				out = append(out, ev.Anomalies...)
			}
		}
		return out
	}
	if got := lastTexts(); len(got) != 1 || got[0] != webText3B {
		t.Fatalf("after the reload: texts %q, want [%q]", got, webText3B)
	}

	replaceFile(t, h.path, brokenCSV)
	err := h.e.ReloadBaseline(ctx)
	if err == nil {
		t.Fatal("a broken baseline was accepted")
	}
	if msg := err.Error(); !strings.Contains(msg, h.path+":3:2") || !strings.Contains(msg, `"abc" is not a number`) {
		t.Errorf("reload error %q does not name file, line 3, column 2 and the cell", msg)
	}
	if n := h.counter("baseline_reload_failures", ""); n != 1 {
		t.Errorf("baseline_reload_failures = %d, want 1", n)
	}
	if h.e.Baseline().Len() != 4 {
		t.Errorf("baseline has %d keys after a failed reload, want the last good one's 4", h.e.Baseline().Len())
	}
	// Immediate mode emits once per pod and window: a new pod shows the next span's text.
	last = podRes{uid: "uid-last2", name: "web-7c5ddbdf54-yyyyy", namespace: "default", cluster: "prod", node: "node-1"}
	h.spans(last, 635, 2, 300, 100) // span 640 scored at the scrape at 655, still against ratioCSVB
	if got := lastTexts(); len(got) != 1 || got[0] != webText3B {
		t.Fatalf("after the failed reload: texts %q, want [%q]", got, webText3B)
	}
}

// TestReloadUnchanged: ReloadBaseline without a file change keeps the baseline and reports nothing.
func TestReloadUnchanged(t *testing.T) {
	h := newHarness(t, ratioCSV)
	before := h.e.Baseline()
	if err := h.e.ReloadBaseline(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.e.Baseline() != before {
		t.Error("baseline replaced although the file did not change")
	}
	if n, _ := h.gauge("baseline_keys"); n != 3 {
		t.Errorf("baseline_keys = %d, want 3", n)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	broken := writeFile(t, dir, "broken.csv", brokenCSV)
	good := writeFile(t, dir, "good.csv", ratioCSV)
	emit := func(context.Context, []Event) {}

	cfg := testConfig(broken)
	if _, err := New(cfg, Settings{Emit: emit}); err == nil || !strings.Contains(err.Error(), broken+":3:2") {
		t.Errorf("New with a broken baseline: %v, want an error naming %s:3:2", err, broken)
	}
	cfg = testConfig(good)
	if _, err := New(cfg, Settings{}); err == nil {
		t.Error("New without Emit succeeded")
	}
	cfg.Span = 0
	if _, err := New(cfg, Settings{Emit: emit}); err == nil || !strings.Contains(err.Error(), "span") {
		t.Errorf("New with span 0: %v", err)
	}
	cfg = testConfig(filepath.Join(dir, "none.csv"))
	if _, err := New(cfg, Settings{Emit: emit}); err == nil {
		t.Error("New with a missing baseline file succeeded")
	}
}

// TestSettingsBaseline: a Reloader given in Settings is used instead of baseline.path.
func TestSettingsBaseline(t *testing.T) {
	dir := t.TempDir()
	r, err := baseline.NewReloader(writeFile(t, dir, "b.csv", ratioCSVB))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(filepath.Join(dir, "does-not-exist.csv"))
	cfg.Mode, cfg.CountThreshold = ModeImmediate, 0
	var evs []Event
	e, err := New(cfg, Settings{Baseline: r, Emit: func(_ context.Context, x []Event) { evs = append(evs, x...) }})
	if err != nil {
		t.Fatal(err)
	}
	f := &podFeeder{pod: webPod}
	for _, sec := range []int64{5, 15, 25} {
		e.ConsumeMetrics(context.Background(), f.batch(sec, 300, 100))
	}
	if len(evs) != 1 || len(evs[0].Anomalies) != 1 || evs[0].Anomalies[0] != webText3B {
		t.Errorf("events %s, want one scored against the given baseline", describeEvents(evs))
	}
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReloadInBackground: after Start the baseline is re-read on its own, failures are counted,
// and Shutdown stops it.
func TestReloadInBackground(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Baseline.ReloadInterval = 5 * time.Millisecond })
	h.e.Start()
	replaceFile(t, h.path, ratioCSVB)
	waitFor(t, "the reload to ratioCSVB", func() bool { return h.e.Baseline().Len() == 4 })
	replaceFile(t, h.path, brokenCSV)
	waitFor(t, "the failed reload to be counted", func() bool { return h.counter("baseline_reload_failures", "") == 1 })
	h.e.Shutdown(context.Background())
	if h.e.Baseline().Len() != 4 {
		t.Errorf("baseline has %d keys, want the last good one's 4", h.e.Baseline().Len())
	}
}

// TestReloadToHeaderOnly: a header-only file is a failed reload that keeps the baseline in use.
func TestReloadToHeaderOnly(t *testing.T) {
	h := newHarness(t, ratioCSV)
	replaceFile(t, h.path, searchHeader+"\n")
	err := h.e.ReloadBaseline(context.Background())
	if err == nil || !strings.Contains(err.Error(), h.path+": no keys") {
		t.Fatalf("reload of a header-only file: %v, want a no-keys error naming the file", err)
	}
	if n := h.e.Baseline().Len(); n != 3 {
		t.Errorf("baseline has %d keys, want the last good one's 3", n)
	}
	if n := h.counter("baseline_reload_failures", ""); n != 1 {
		t.Errorf("baseline_reload_failures = %d, want 1", n)
	}
	cfg := testConfig(h.path)
	if _, err := New(cfg, Settings{Emit: func(context.Context, []Event) {}}); err == nil || !strings.Contains(err.Error(), "no keys") {
		t.Errorf("New on a header-only file: %v, want a no-keys error", err)
	}
}

// TestLearnedBootstrapHeaderOnly: with learn.enabled the learner's own file may have no keys at
// start, but once keys were learned a header-only file does not replace them.
func TestLearnedBootstrapHeaderOnly(t *testing.T) {
	learned := writeFile(t, t.TempDir(), "learned.csv", searchHeader+"\n")
	h := newHarness(t, ratioCSV, func(c *Config) { c.Baseline.Path = learned }, learnInto(learned))
	if n := h.e.Baseline().Len(); n != 0 {
		t.Fatalf("baseline keys = %d, want 0", n)
	}
	replaceFile(t, learned, ratioCSVB)
	if err := h.e.ReloadBaseline(context.Background()); err != nil || h.e.Baseline().Len() != 4 {
		t.Fatalf("reload of the learned keys: %v, %d keys", err, h.e.Baseline().Len())
	}
	replaceFile(t, learned, searchHeader+"\n")
	if err := h.e.ReloadBaseline(context.Background()); err == nil || h.e.Baseline().Len() != 4 {
		t.Errorf("reload of a header-only file after learning: %v, %d keys; want an error and 4 keys", err, h.e.Baseline().Len())
	}
}
