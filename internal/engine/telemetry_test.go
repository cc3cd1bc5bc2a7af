package engine

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestTelemetryCounts follows a run by hand: webPod scrapes at 3525 (prime), 3535 ... 3585 (six
// anomalous spans 3530 ... 3580), 3595 (no growth) and 3630 (no growth): 9 scrapes x 2 points =
// 18 used. Spans scored: 3530 ... 3580 (6, anomalous) and 3590 (in = out = 0, both directions
// present, not anomalous) = 7. The scrape at 3630 moves the watermark to 3600: the window closes
// with one event.
func TestTelemetryCounts(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Lateness = 30 * time.Second })
	sixSpans(h)
	h.feed(3630, traffic{webPod, 0, 0})
	if n := len(h.takeEvents()); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
	for name, want := range map[string]int64{
		"datapoints_used": 18, "spans_scored": 7, "spans_anomalous": 6, "events_emitted": 1,
	} {
		if got := h.counter(name, ""); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if got := h.drops(); len(got) != 0 {
		t.Errorf("dropped = %v, want none", got)
	}
	if n, ok := h.gauge("pods_tracked"); !ok || n != 1 {
		t.Errorf("pods_tracked = %d (recorded %v), want 1", n, ok)
	}
	if n, ok := h.gauge("baseline_keys"); !ok || n != 3 {
		t.Errorf("baseline_keys = %d (recorded %v), want 3", n, ok)
	}
}

// TestTelemetryOptional: with no instruments (nil) and with no-op ones nothing panics.
func TestTelemetryOptional(t *testing.T) {
	path := writeFile(t, t.TempDir(), "b.csv", ratioCSV)
	m := noop.Meter{}
	used, _ := m.Int64Counter("x")
	for _, tel := range []Telemetry{{}, {DatapointsUsed: used}} {
		e, err := New(testConfig(path), Settings{Telemetry: tel, Emit: func(context.Context, []Event) {}})
		if err != nil {
			t.Fatal(err)
		}
		f := &podFeeder{pod: webPod}
		for _, sec := range []int64{5, 15, 25} {
			e.ConsumeMetrics(context.Background(), f.batch(sec, 300, 100))
		}
		e.Tick(context.Background())
		e.Shutdown(context.Background())
	}
}

func TestDropReasonNames(t *testing.T) {
	want := []string{"no_pod_name", "no_cluster", "no_node", "unknown_direction", "not_finite", "negative",
		"late", "pod_limit", "excluded", "unsupported_type", "future", "invalid_name", "series_limit", "duplicate",
		"reorder_limit"}
	if len(want) != int(numDropReasons) {
		t.Fatalf("%d reasons, test knows %d", numDropReasons, len(want))
	}
	for i, w := range want {
		if got := DropReason(i).String(); got != w {
			t.Errorf("DropReason(%d) = %q, want %q", i, got, w)
		}
	}
}

// TestWarnOnce: a missing cluster name is logged once as a warning, however many points are
// dropped for it; a failed reload is logged as an error.
func TestWarnOnce(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	path := writeFile(t, t.TempDir(), "b.csv", ratioCSV)
	e, err := New(testConfig(path), Settings{Logger: zap.New(core), Emit: func(context.Context, []Event) {}})
	if err != nil {
		t.Fatal(err)
	}
	noCluster := podRes{uid: "u1", name: "web-7c5ddbdf54-x8f2k", namespace: "default", node: "node-1"}
	for _, sec := range []int64{5, 15, 25} {
		e.ConsumeMetrics(context.Background(), newMD().add(noCluster, cumulativeSum,
			ip("eth0", "receive", sec, 1), ip("eth0", "transmit", sec, 1)).md)
	}
	if n := logs.FilterLevelExact(zap.WarnLevel).Len(); n != 1 {
		t.Errorf("%d warnings, want 1: %v", n, logs.All())
	}
	replaceFile(t, path, brokenCSV)
	if err := e.ReloadBaseline(context.Background()); err == nil {
		t.Fatal("broken baseline accepted")
	}
	if n := logs.FilterLevelExact(zap.ErrorLevel).Len(); n != 1 {
		t.Errorf("%d errors logged for a failed reload, want 1", n)
	}
}
