package engine

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A node that only ever sent first scrapes (its agent then left, or one forged point named it) has
// no time of its own: it must not hold the learner's Advance or the peer counts back, and its pods
// are forgotten after pod_expiry on the wall clock.
func TestNodeWithoutTimeHoldsNothingBack(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Window = time.Minute })
	ghost := podRes{uid: "uid-ghost", name: "ghost-7c5ddbdf54-aaaaa", namespace: "default", cluster: "prod", node: "node-9"}
	h.feed(0, traffic{ghost, 0, 0})
	for i := int64(0); i <= 720; i++ {
		h.feed(10*i, traffic{webPod, 300, 100})
		if i%30 == 0 {
			h.advanceClock(5 * time.Minute)
			h.e.Tick(context.Background())
		}
	}
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	if len(h.obs.advanced) == 0 {
		t.Error("the learner never advanced in two hours of data")
	}
	if len(h.e.peers) > 5 {
		t.Errorf("%d peer-count entries kept for 1-minute windows", len(h.e.peers))
	}
	if h.e.pods.find("uid-ghost", "", "", "") != nil || h.e.sources["node-9"] != nil {
		t.Error("the ghost pod and its node are never forgotten")
	}
}

// Pods whose every point is dropped hold no max_pods slot for longer than pod_expiry.
func TestPodsWithoutUsablePointsExpire(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Limits.MaxPods = 3 })
	for i := 0; i < 3; i++ {
		p := podRes{uid: "uid-g" + itoa(i), name: "ghost-7c5ddbdf54-aaaa" + itoa(i), namespace: "default", cluster: "prod", node: "ghost"}
		h.consume(newMD().add(p, cumulativeSum, ip("eth0", "sideways", 0, 1)).md)
	}
	h.advanceClock(11 * time.Minute)
	h.e.Tick(context.Background())
	h.spans(webPod, 5, 3, 300, 100)
	if d := h.drops(); d["pod_limit"] > 0 {
		t.Errorf("the real pod is refused: drops %v", d)
	}
}

// The same input gives the same events, peer context included, whatever the maps' order:
// immediate mode on one node, a service shift on one node, and one Flush over two nodes.
func TestEventsDeterministic(t *testing.T) {
	type scenario struct {
		name string
		run  func(t *testing.T) string
	}
	onNode := func(n int, node string) []podRes {
		var pods []podRes
		for i := 0; i < n; i++ {
			pods = append(pods, podRes{uid: "u" + itoa(i), name: "web-7c5ddbdf54-aaaa" + itoa(i), namespace: "default", cluster: "prod", node: node})
		}
		return pods
	}
	for _, sc := range []scenario{
		{"immediate, one node", func(t *testing.T) string {
			h := newHarness(t, ratioCSV, immediateAny)
			for i := int64(0); i <= 2; i++ {
				var tr []traffic
				for _, p := range onNode(4, "node-1") {
					tr = append(tr, traffic{p, 300, 100})
				}
				h.feed(10*i, tr...)
			}
			h.e.Flush(context.Background())
			return bodies(h.takeEvents())
		}},
		{"service shift, one node", func(t *testing.T) string {
			h := newHarness(t, profileCSV, recommendedProfile)
			scrapes(h, onNode(5, "node-1"), 10, 40, func(_, i int) (int64, int64) {
				if i >= 20 {
					return 100, 500
				}
				return 100, 50
			})
			return bodies(h.takeEvents())
		}},
		{"one Flush, two nodes", func(t *testing.T) string {
			h := newHarness(t, ratioCSV, func(c *Config) { c.Window, c.CountThreshold = time.Minute, 0 })
			h.feed(0, traffic{webPod, 0, 0}, traffic{webPod2, 0, 0})
			h.feed(55, traffic{webPod, 300, 100}, traffic{webPod2, 300, 100})
			h.e.Flush(context.Background())
			return bodies(h.takeEvents())
		}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			first := sc.run(t)
			if first == "" {
				t.Fatal("no events")
			}
			for run := 1; run < 15; run++ {
				if got := sc.run(t); got != first {
					t.Fatalf("run %d differs:\n%s\nfirst:\n%s", run, got, first)
				}
			}
		})
	}
}

// A saved entry with a buffered point near int64's end is refused at restore (the spans it would
// make cannot be computed); a live or replayed point there is dropped as future. Neither hangs.
func TestTimesNearInt64End(t *testing.T) {
	h := newHarness(t, ratioCSV)
	ns := func(sec int64) int64 { return (t0 + sec) * int64(time.Second) }
	st := sourceState{Format: 1, Source: "node-1", Span: int64(h.cfg.Span), Window: int64(h.cfg.Window),
		Newest: ns(0), Seen: true, Watermark: ns(0), Swept: ns(0), Closed: ns(0) - ns(0)%int64(time.Hour),
		Pods: []podState{{UID: "uid-web-1", Cluster: "prod", Namespace: "default", Name: "web-7c5ddbdf54-x8f2k",
			ScoredThrough: ns(0), LastSeen: ns(0), Series: []seriesState{{Interface: "eth0", Inbound: true, Primed: true,
				Anchor: readingState{Ts: ns(0), Start: int64(podStart), V: 100},
				Buffer: []readingState{{Ts: math.MaxInt64 - 1, Start: int64(podStart), V: 200}}}}}}}
	data, err := json.Marshal(&st)
	if err != nil {
		t.Fatal(err)
	}
	h.e.set.State = &memoryStore{entries: map[string][]byte{"detect/node-1": data}}
	h.e.restore(context.Background())
	if h.e.pods.len() != 0 {
		t.Fatal("an entry with a point near int64's end was restored")
	}
	for _, replay := range []bool{false, true} {
		h := newHarness(t, ratioCSV)
		h.e.set.DataTimeOnly = replay
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, ts := range []int64{math.MaxInt64 - 1, math.MaxInt64} {
				h.consume(evilBatch(ts))
			}
			h.e.Flush(context.Background())
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("replay=%v: the engine hangs on points near int64's end", replay)
		}
		if d := h.drops(); !reflect.DeepEqual(d, map[string]int64{"future": 4}) {
			t.Errorf("replay=%v: dropped %v, want future 4", replay, d)
		}
	}
}

// An interface name is kept per series and saved: a megabyte one is not taken.
func TestLongInterfaceNameDropped(t *testing.T) {
	h := newHarness(t, ratioCSV)
	long := strings.Repeat("x", 1<<20)
	h.consume(newMD().add(webPod, cumulativeSum, ip(long, "receive", 5, 1), ip("eth0", "transmit", 5, 1)).md)
	if d := h.drops(); !reflect.DeepEqual(d, map[string]int64{"invalid_name": 1}) {
		t.Errorf("dropped %v, want invalid_name 1", d)
	}
}
