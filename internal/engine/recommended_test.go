package engine

import (
	"context"
	"strings"
	"testing"
	"time"
)

// profileCSV gives prod:web the recommended profile's figures: usual inbound 100 B/s and outbound
// 50 B/s, high levels 200 and 100 B/s, median ln(outbound/inbound) ln 0.5, MAD 0.2. So the ratio
// must rise x3 (K sigma = 3 x 1.4826 x 0.2 = 0.89 in ln, below the floor ln 3), and the numerator
// must reach the gate: outbound max(3 x 50, 2 x 100) = 200 B/s, inbound max(3 x 100, 2 x 200) =
// 400 B/s.
const profileCSV = "key,usual_inbound_bps,usual_outbound_bps,high_inbound_bps,high_outbound_bps,median_ln_outbound:inbound,mad_ln_outbound:inbound\n" +
	"prod:web,100,50,200,100,-0.6931471805599453,0.2\n"

func recommendedProfile(c *Config) {
	c.Profile, c.Mode = ProfileRecommended, ModeImmediate
}

// scrapes feeds pod every interval seconds from t0+5 for n scrapes after the priming one, at inBps
// and outBps; spike, when set, changes the rates of the scrapes it returns true for.
func scrapes(h *harness, pods []podRes, interval int64, n int, rates func(pod, i int) (in, out int64)) {
	var tr []traffic
	for _, p := range pods {
		tr = append(tr, traffic{p, 0, 0})
	}
	h.feed(5, tr...)
	for i := 1; i <= n; i++ {
		tr = tr[:0]
		for j, p := range pods {
			in, out := rates(j, i)
			tr = append(tr, traffic{p, in * interval, out * interval})
		}
		h.feed(5+interval*int64(i), tr...)
	}
	h.e.Flush(context.Background())
}

func steady(in, out int64) func(int, int) (int64, int64) {
	return func(int, int) (int64, int64) { return in, out }
}

// TestRecommendedStaysQuiet: what parity turned into false events on real traffic is no event:
// outbound collapsing to 1 % of usual (inbound:outbound x100, but inbound is not above its
// gate), inbound halving for an hour (outbound:inbound x2, below x3, and outbound at its usual
// rate), and one span of inbound x60 (a burst: 10 s of anomalous time, not more than a minute).
func TestRecommendedStaysQuiet(t *testing.T) {
	for name, rates := range map[string]func(int, int) (int64, int64){
		"usual traffic":          steady(100, 50),
		"denominator collapse":   func(_, i int) (int64, int64) { return 100, map[bool]int64{true: 1, false: 50}[i%3 == 0] },
		"level shift of inbound": steady(50, 50),
		"one burst": func(_, i int) (int64, int64) {
			if i == 30 {
				return 6000, 50
			}
			return 100, 50
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, profileCSV, recommendedProfile)
			scrapes(h, []podRes{webPod}, 10, 360, rates)
			if evs := h.takeEvents(); len(evs) != 0 {
				t.Errorf("events: %s", describeEvents(evs))
			}
			if n := h.counter("spans_scored", ""); n != 360 {
				t.Errorf("spans_scored = %d, want 360", n)
			}
		})
	}
}

// TestRecommendedFires: x10 exfiltration (outbound 500 B/s) and x10 download (inbound 1000 B/s)
// from the 20th scrape on. At 10 s scrapes each anomalous span stands for 10 s, so the eighth
// (80 s > 70 s) makes the event, at the span starting 70 s after the attack's first: at 60 s
// scrapes each stands for a minute and the second one does, 60 s after.
func TestRecommendedFires(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval int64
		in, out  int64
		want     string
		afterSec int64 // the event's span start minus the attack's first span start
	}{
		{"exfiltration, 10 s scrapes", 10, 100, 500, "exfiltration: outbound:inbound=5 is 10x its usual 0.5 (needed 3x); outbound 500 B/s, usual 50 B/s, gate 200 B/s", 70},
		{"download, 10 s scrapes", 10, 1000, 50, "download: inbound:outbound=20 is 10x its usual 2 (needed 3x); inbound 1000 B/s, usual 100 B/s, gate 400 B/s", 70},
		{"exfiltration, 60 s scrapes", 60, 100, 500, "exfiltration: outbound:inbound=5 is 10x its usual 0.5 (needed 3x); outbound 500 B/s, usual 50 B/s, gate 200 B/s", 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, profileCSV, recommendedProfile)
			const first = 20
			scrapes(h, []podRes{webPod}, tc.interval, 60, func(_, i int) (int64, int64) {
				if i >= first {
					return tc.in, tc.out
				}
				return 100, 50
			})
			evs := h.takeEvents()
			if len(evs) == 0 {
				t.Fatal("no event")
			}
			ev := evs[0]
			attack := timeAt(5 + tc.interval*first).Truncate(10 * time.Second) // the span of the first attack scrape
			if got := ev.Time.Sub(attack); got != time.Duration(tc.afterSec)*time.Second {
				t.Errorf("event at attack + %s, want + %ds", got, tc.afterSec)
			}
			if len(ev.Anomalies) == 0 || ev.Anomalies[0] != tc.want {
				t.Errorf("anomalies %q, want %q", ev.Anomalies, tc.want)
			}
			if ev.Body()["max_zscore"] == nil {
				t.Error("no max_zscore")
			}
		})
	}
}

// TestRecommendedWithoutProfileColumns: a Splunk lookup (parity columns only) scores nothing
// in the recommended profile, rather than everything; parity still scores it.
func TestRecommendedWithoutProfileColumns(t *testing.T) {
	h := newHarness(t, ratioCSV, recommendedProfile)
	scrapes(h, []podRes{webPod}, 10, 30, steady(300, 100))
	if evs := h.takeEvents(); len(evs) != 0 {
		t.Errorf("events: %s", describeEvents(evs))
	}
	if n := h.counter("spans_scored", ""); n != 0 {
		t.Errorf("spans_scored = %d, want 0", n)
	}
}

// TestServiceShift: five replicas of web on five nodes all raise outbound x10 together. The first
// two to pass the rule are events (1 and 2 of 5 anomalous then); the third makes a majority: one
// service_shift record for the service, and no event for it or the last two.
func TestServiceShift(t *testing.T) {
	h := newHarness(t, profileCSV, recommendedProfile)
	var pods []podRes
	for i := 0; i < 5; i++ {
		pods = append(pods, podRes{uid: "uid-" + itoa(i), name: "web-7c5ddbdf54-aaaa" + itoa(i), namespace: "default", cluster: "prod", node: "node-" + itoa(i)})
	}
	scrapes(h, pods, 10, 40, func(_, i int) (int64, int64) {
		if i >= 20 {
			return 100, 500
		}
		return 100, 50
	})
	evs := h.takeEvents()
	var perPod, shift int
	for _, ev := range evs {
		b := ev.Body()
		if b["service_shift"] == true {
			shift++
			if !strings.Contains(b["message"].(string), "Service-wide network IO shift of web") || b["peers_anomalous"] != int64(3) ||
				b["peers_total"] != int64(5) || b["event_type"] != "service_shift" || b["risk_score"] != nil {
				t.Errorf("shift record %v", b)
			}
			continue
		}
		perPod++
	}
	if perPod != 2 || shift != 1 {
		t.Errorf("%d pod events and %d shift records, want 2 and 1:%s", perPod, shift, describeEvents(evs))
	}
}

// TestRecommendedSurgeBecomesTheLevel: inbound x8 for two hours (a natural surge, which by ratio
// and volume alone looks like a download). Nothing in the pod's history predicted it, so its
// onset is an event; after 15 minutes the pod's recent level is the surge, the gate is 3x that,
// and the second hour of the same surge makes no event.
func TestRecommendedSurgeBecomesTheLevel(t *testing.T) {
	h := newHarness(t, profileCSV, recommendedProfile)
	scrapes(h, []podRes{webPod}, 10, 3*360, func(_, i int) (int64, int64) {
		if i > 360 {
			return 800, 50
		}
		return 100, 50
	})
	evs := h.takeEvents()
	if len(evs) != 1 || !evs[0].WindowStart.Equal(timeAt(3600)) {
		t.Errorf("events %s, want one, at the surge's onset in window t0+3600", describeEvents(evs))
	}
}
