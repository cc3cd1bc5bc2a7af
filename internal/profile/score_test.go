package profile

import (
	"math"
	"math/rand"
	"testing"
	"time"
)

// learnPod returns the usual figures of a pod like most of the real ones measured:
// inbound about 1000 B/s, outbound about 24000 B/s, each wobbling 15 % (log sd) from
// sample to sample, learned over a day of 60 s samples. surge, when > 0, makes that
// fraction of the day an inbound surge of 8x (outbound flat), like the real services
// whose inbound rises 5-13x for hours.
func learnPod(t *testing.T, surge float64) Usual {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	var m Model
	for i := range 1440 {
		in := lognormal(rng, 1000, 0.15)
		if float64(i) < surge*1440 {
			in *= 8
		}
		m.Observe(in, lognormal(rng, 24000, 0.15))
	}
	u, ok := m.Usual()
	if !ok {
		t.Fatal("nothing learned")
	}
	return u
}

func TestScoreScenarios(t *testing.T) {
	steady := learnPod(t, 0)
	surging := learnPod(t, 0.3)
	tests := []struct {
		name    string
		u       Usual
		in, out float64
		exfil   bool
		dl      bool
	}{
		{"a usual span", steady, 1000, 24000, false, false},
		// Issue 8, pattern 1: one idle sample, outbound at 1 % of usual and inbound
		// low too; inbound:outbound jumps 40x, but inbound did not rise.
		{"denominator collapse stays quiet", steady, 600, 240, false, false},
		// Pattern 2: inbound halves between days, outbound unchanged: outbound:inbound
		// doubles, which is under the ln 3 floor of the required rise.
		{"level shift of the denominator stays quiet", steady, 490, 24000, false, false},
		// The same with outbound at twice its usual level: the ratio is 4x, past the
		// threshold, but outbound is under Gate x usual, so it is not exfiltration.
		{"level shift with outbound up 2x stays quiet", steady, 490, 48000, false, false},
		{"x10 exfiltration fires", steady, 1000, 240000, true, false},
		{"x10 download fires", steady, 10000, 24000, false, true},
		// A burst of both directions is load, not an attack: the ratio holds still.
		{"x5 load change in both directions stays quiet", steady, 5000, 120000, false, false},
		{"an idle span is not scored", steady, 0, 24000, false, false},
		{"a span with neither direction is not scored", steady, 0, 0, false, false},
		// The surge rule: a pod whose inbound reaches 8x for hours every day does so
		// again without an event, because inbound must also pass HighGate x its
		// 95th percentile.
		{"a learned daily surge stays quiet", surging, 8000, 24000, false, false},
		// The accepted cost: on that pod a x10 download from its usual level is
		// within what it does every day, and is not caught; a x30 one is.
		{"x10 download on a surging pod is not told from its surges", surging, 10000, 24000, false, false},
		{"x30 download on a surging pod fires", surging, 30000, 24000, false, true},
		{"x10 exfiltration on a surging pod fires", surging, 1000, 240000, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Score(tt.in, tt.out, tt.u, Recommended())
			if v.Exfiltration.Anomalous != tt.exfil || v.Download.Anomalous != tt.dl {
				t.Fatalf("exfiltration %+v, download %+v; want anomalous %t, %t", v.Exfiltration, v.Download, tt.exfil, tt.dl)
			}
			if v.Anomalous() != (tt.exfil || tt.dl) {
				t.Fatal("Anomalous disagrees with the directions")
			}
		})
	}
}

// TestScoreWhyQuiet pins down which rule keeps each of the false-event patterns
// quiet, so that a change to one rule shows which pattern it lets through.
func TestScoreWhyQuiet(t *testing.T) {
	u := learnPod(t, 0)
	collapse := Score(600, 240, u, Recommended()).Download
	if !collapse.RatioHigh || collapse.Gated {
		t.Errorf("denominator collapse: want the ratio high and the numerator gate closed, got %+v", collapse)
	}
	shift := Score(490, 48000, u, Recommended()).Exfiltration
	if !shift.RatioHigh || shift.Gated {
		t.Errorf("level shift: want the ratio high and the numerator gate closed, got %+v", shift)
	}
	load := Score(5000, 120000, u, Recommended())
	if load.Exfiltration.RatioHigh || load.Download.RatioHigh || !load.Exfiltration.Gated || !load.Download.Gated {
		t.Errorf("load change: want both gates open and neither ratio high, got %+v", load)
	}
}

func TestScoreThresholdClamp(t *testing.T) {
	tests := []struct {
		name      string
		mad       float64
		rise      float64 // factor of outbound:inbound
		ratioHigh bool
	}{
		// A steady pod (sigma 0.15): K sigma = 0.45 is raised to the ln 3 floor.
		{"steady pod, ratio x2.9: under the floor", 0.1, 2.9, false},
		{"steady pod, ratio x3.1: over the floor", 0.1, 3.1, true},
		// A noisy pod (sigma 1.33, the 0.9-1.3): K sigma = 4 (x55) is capped at
		// ln 4, so a x10 change of one direction still counts.
		{"noisy pod, ratio x3.9: under the cap", 0.9, 3.9, false},
		{"noisy pod, ratio x4.1: over the cap", 0.9, 4.1, true},
		// In between, K sigma rules: MAD 0.28, sigma 0.415, 3 sigma = 1.245 (x3.47).
		{"middle pod, ratio x3.4: under K sigma", 0.28, 3.4, false},
		{"middle pod, ratio x3.55: over K sigma", 0.28, 3.55, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := Usual{In: 1000, Out: 1000, InHigh: 1000, OutHigh: 1000, LogRatio: 0, LogRatioMAD: tt.mad}
			c := Score(1000, 1000*tt.rise, u, Recommended()).Exfiltration
			if c.RatioHigh != tt.ratioHigh {
				t.Fatalf("ratio x%g with MAD %g: RatioHigh %t, want %t (z %.2f)", tt.rise, tt.mad, c.RatioHigh, tt.ratioHigh, c.Z)
			}
		})
	}
}

func TestScoreGate(t *testing.T) {
	// steady: the high level is close to the usual one, so Gate x usual (3000) decides.
	steady := Usual{In: 1000, Out: 1000, InHigh: 1200, OutHigh: 1200, LogRatio: 0, LogRatioMAD: 0.1}
	// surging: outbound's 95th percentile is 3x its median, so HighGate x high (6000)
	// decides.
	surging := Usual{In: 1000, Out: 1000, InHigh: 1200, OutHigh: 3000, LogRatio: 0, LogRatioMAD: 0.1}
	tests := []struct {
		name  string
		u     Usual
		out   float64
		gated bool
	}{
		{"steady, 2.9x usual: under Gate", steady, 2900, false},
		{"steady, 3x usual: Gate open", steady, 3000, true},
		{"surging, 3x usual: Gate open, under HighGate x high", surging, 3000, false},
		{"surging, 5.9x usual: still under HighGate x high", surging, 5900, false},
		{"surging, 6x usual: both open", surging, 6000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Score(1000, tt.out, tt.u, Recommended()).Exfiltration
			if c.Gated != tt.gated {
				t.Fatalf("Gated %t, want %t", c.Gated, tt.gated)
			}
		})
	}
	unlearnedHigh := surging
	unlearnedHigh.OutHigh = math.NaN()
	if !Score(1000, 3000, unlearnedHigh, Recommended()).Exfiltration.Gated {
		t.Fatal("a high level that was not learned (NaN) must skip the high gate, not close it")
	}
	for name, u := range map[string]Usual{
		"no usual outbound": {In: 1000, Out: math.NaN(), LogRatio: 0, LogRatioMAD: 0.1},
		"no ratio median":   {In: 1000, Out: 1000, LogRatio: math.NaN(), LogRatioMAD: 0.1},
		"negative MAD":      {In: 1000, Out: 1000, LogRatio: 0, LogRatioMAD: -1},
	} {
		if v := Score(1000, 1e9, u, Recommended()); v.Exfiltration.Defined || v.Anomalous() {
			t.Errorf("%s: a key without usable learned figures must score nothing, got %+v", name, v)
		}
	}
	noHigh := Recommended()
	noHigh.HighGate = 0
	if !Score(1000, 3000, surging, noHigh).Exfiltration.Gated {
		t.Fatal("HighGate 0 must disable the high-level rule")
	}
	// A direction idle most of the day has usual rate 0: MinRate keeps a few bytes from
	// opening the gate.
	idle := Usual{In: 1000, Out: 0, LogRatio: math.Log(0.001), LogRatioMAD: 0.1}
	if Score(1000, 2, idle, Recommended()).Exfiltration.Gated {
		t.Fatal("2 B/s opened the gate of a direction whose usual rate is 0")
	}
	if !Score(1000, 5000, idle, Recommended()).Exfiltration.Anomalous {
		t.Fatal("5000 B/s out of a usually silent pod must count")
	}
}

// feed runs spans of one pod through Score and a Trail, as the engine would, and
// returns the index of the span that makes the first exfiltration event, or -1.
func feed(u Usual, step time.Duration, spans [][2]float64) int {
	var tr Trail
	start := time.Unix(1_700_000_000, 0)
	for i, s := range spans {
		end := start.Add(time.Duration(i+1) * step)
		if Score(s[0], s[1], u, Recommended()).Exfiltration.Anomalous && tr.Add(end, step, RecommendedRule()) {
			return i
		}
	}
	return -1
}

func TestEventTimingAtBothScrapeIntervals(t *testing.T) {
	u := learnPod(t, 0)
	normal, exfil, burst := [2]float64{1000, 24000}, [2]float64{1000, 240000}, [2]float64{1000, 1_000_000}
	spans := func(n int, s [2]float64) [][2]float64 {
		out := make([][2]float64, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	cat := func(parts ...[][2]float64) (out [][2]float64) {
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name  string
		step  time.Duration
		spans [][2]float64
		want  int
	}{
		{"60 s scrapes: x10 exfiltration fires on its second sample", time.Minute,
			cat(spans(20, normal), spans(10, exfil)), 21},
		{"10 s scrapes: fires on the 8th span, 80 s in (7 spans, 70 s, is not more than 70 s)", 10 * time.Second,
			cat(spans(20, normal), spans(60, exfil)), 27},
		{"60 s scrapes: one burst sample every 10 minutes never fires", time.Minute,
			cat(spans(9, normal), spans(1, burst), spans(9, normal), spans(1, burst), spans(9, normal), spans(1, burst)), -1},
		{"60 s scrapes: two burst samples 5 minutes apart fall out of the window", time.Minute,
			cat(spans(1, burst), spans(4, normal), spans(1, burst)), -1},
		{"60 s scrapes: two bursts 4 minutes apart are within it", time.Minute,
			cat(spans(1, burst), spans(3, normal), spans(1, burst)), 4},
		{"10 s scrapes: a one-minute burst (6 spans) never fires", 10 * time.Second,
			cat(spans(6, burst), spans(60, normal)), -1},
		{"10 s scrapes: a one-minute burst out of step with the scrapes (7 spans) never fires", 10 * time.Second,
			cat(spans(7, burst), spans(60, normal)), -1},
		{"10 s scrapes: a 30 s denominator collapse never fires", 10 * time.Second,
			cat(spans(3, [2]float64{600, 240}), spans(60, normal)), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := feed(u, tt.step, tt.spans); got != tt.want {
				t.Fatalf("event at span %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCreditCapsLongGaps(t *testing.T) {
	r := RecommendedRule()
	var tr Trail
	t0 := time.Unix(1_700_000_000, 0)
	// One span after a 10-minute gap covers ten minutes of data but counts for one,
	// so it cannot make an event on its own.
	if tr.Add(t0, 10*time.Minute, r) {
		t.Fatal("one span after a gap made an event")
	}
	if !tr.Add(t0.Add(time.Minute), time.Minute, r) {
		t.Fatal("two anomalous minutes in a row must make an event")
	}
	tr.Reset()
	if tr.Len() != 0 || tr.Add(t0.Add(2*time.Minute), time.Minute, r) {
		t.Fatal("Reset must empty the trail")
	}
	if Credit(-time.Second, time.Minute) != 0 {
		t.Fatal("a negative cover is no time")
	}
}

func TestServiceShift(t *testing.T) {
	tests := []struct {
		anomalous, total int
		want             bool
		why              string
	}{
		{1, 1, false, "a single replica is never suppressed"},
		{2, 2, false, "two replicas: no majority to tell a deploy from two compromised pods"},
		{1, 3, false, "one of three: a pod, not the service"},
		{2, 3, true, "two of three moved together"},
		{3, 3, true, "all replicas moved: deploy or load change"},
		{5, 10, false, "exactly half is not most"},
		{6, 10, true, "most of ten"},
		{1, 50, false, "one compromised pod in a large service still alerts"},
	}
	for _, tt := range tests {
		if got := ServiceShift(tt.anomalous, tt.total, 3, 0.5); got != tt.want {
			t.Errorf("%d/%d: %t, want %t (%s)", tt.anomalous, tt.total, got, tt.want, tt.why)
		}
	}
}
