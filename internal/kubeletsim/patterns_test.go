package kubeletsim

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// railOnly is the mixed estate's single-replica services alone, on one node: the same pods
// and traffic as in MixedConfig (names and noise derive from cluster, namespace and name),
// fewer to simulate.
func railOnly(day int) Config {
	cfg := MixedConfig()
	var rail []ServiceConfig
	for _, s := range cfg.Services {
		if s.Namespace == "rail" {
			rail = append(rail, s)
		}
	}
	cfg.Services, cfg.Day = rail, day
	return cfg
}

// simPodOf is the pod of service's replica 0.
func simPodOf(t *testing.T, sim *Simulator, service string) *simPod {
	t.Helper()
	for _, p := range sim.pods {
		if p.service == service && p.replica == 0 {
			return p
		}
	}
	t.Fatalf("no pod of %s", service)
	return nil
}

// slotRates are a pod's mean inbound and outbound rates (bytes/s) in n consecutive slots of
// secs seconds from simulated time from, read through its counters as a consumer would.
func slotRates(p *simPod, from int64, n int, secs int64) (rx, tx []float64) {
	st := newCounterState(from, 0, 0)
	prevRx, prevTx := interfaceSums(p.interfaces, p.traffic.totalsAt(&st, float64(from), nil))
	for j := range n {
		r, x := interfaceSums(p.interfaces, p.traffic.totalsAt(&st, float64(from+int64(j+1)*secs), nil))
		rx = append(rx, float64(r-prevRx)/float64(secs))
		tx = append(tx, float64(x-prevTx)/float64(secs))
		prevRx, prevTx = r, x
	}
	return rx, tx
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func meanOf(xs []float64) float64 {
	var m meanVar
	for _, x := range xs {
		m.add(x)
	}
	return m.mean
}

func logRatioStdev(rx, tx []float64) float64 {
	var m meanVar
	for i := range rx {
		m.add(math.Log(tx[i] / rx[i]))
	}
	return m.stdev()
}

// binomialBand is p ± 4.5 standard errors of a rate over n trials.
func binomialBand(p float64, n int) (lo, hi float64) {
	se := math.Sqrt(p * (1 - p) / float64(n))
	return p - 4.5*se, p + 4.5*se
}

// A quiet service of the mixed estate is heavy-tailed per minute like the measured ones
// (stdev of ln(out/in) 0.6-1.3 there), where a default service is not.
func TestMixedQuietServicesAreHeavyTailed(t *testing.T) {
	sim := mustNew(t, MixedConfig(), nil, 1)
	const minutes = 1440
	for _, svc := range []string{"booking", "refund"} {
		rx, tx := slotRates(simPodOf(t, sim, svc), 0, minutes, 60)
		if sd := logRatioStdev(rx, tx); sd < 0.8 || sd > 1.5 {
			t.Errorf("%s: stdev of ln(out/in) per minute over a day %.3f, want 0.8..1.5", svc, sd)
		}
	}
	for _, svc := range []string{"api", "rail-gateway"} {
		rx, tx := slotRates(simPodOf(t, sim, svc), 0, minutes, 60)
		if sd := logRatioStdev(rx, tx); sd > 0.3 {
			t.Errorf("%s: stdev of ln(out/in) per minute %.3f, want short tails (< 0.3)", svc, sd)
		}
	}
}

// Idle minutes come at the configured rate, with the measured depths: outbound at about
// 1.5 % of usual, inbound at about 35 %.
func TestIdleMinutesRateAndDepth(t *testing.T) {
	sim := mustNew(t, railOnly(1), nil, 4)
	p := simPodOf(t, sim, "booking") // idle probability 0.08
	const n = 8000
	rx, tx := slotRates(p, -n/2*60, n, 60) // before and after time 0: the baseline's side too
	mrx, mtx := median(rx), median(tx)
	var idleRx, idleTx []float64
	for i := range rx {
		if tx[i] < 0.1*mtx {
			idleRx, idleTx = append(idleRx, rx[i]/mrx), append(idleTx, tx[i]/mtx)
		}
	}
	rate := float64(len(idleTx)) / n
	if lo, hi := binomialBand(0.08, n); rate < lo || rate > hi {
		t.Errorf("idle minutes %.4f of %d, want 0.08 (%.4f..%.4f)", rate, n, lo, hi)
	}
	if m := median(idleTx); m < 0.01 || m > 0.025 {
		t.Errorf("median outbound in an idle minute %.4f of usual, want about 0.015", m)
	}
	if m := median(idleRx); m < 0.25 || m > 0.5 {
		t.Errorf("median inbound in an idle minute %.3f of usual, want about 0.35", m)
	}
	// The jump of inbound:outbound an idle minute makes: 10-100x, as measured.
	var jumps []float64
	for i := range idleRx {
		jumps = append(jumps, idleRx[i]/idleTx[i])
	}
	slices.Sort(jumps)
	if lo, hi := jumps[len(jumps)/10], jumps[len(jumps)*9/10]; lo < 5 || hi > 120 || median(jumps) < 15 || median(jumps) > 35 {
		t.Errorf("in:out jump in idle minutes: 10th pct %.1f, median %.1f, 90th pct %.1f; want about 10-100, 23 at the middle", lo, median(jumps), hi)
	}
	// A default service never idles.
	q := simPodOf(t, mustNew(t, DefaultConfig(), nil, 4), "api")
	_, qtx := slotRates(q, 0, 1440, 60)
	for i, v := range qtx {
		if v < 0.3*median(qtx) {
			t.Fatalf("default service api: minute %d outbound %.0f, median %.0f", i, v, median(qtx))
		}
	}
}

// Inbound spikes: about 1 % of minutes, 4-60x inbound, outbound unchanged.
func TestSpikeMinutes(t *testing.T) {
	sim := mustNew(t, railOnly(1), nil, 5)
	p := simPodOf(t, sim, "refund") // spikes probability 0.01
	const n = 8000
	rx, tx := slotRates(p, 0, n, 60)
	mrx, mtx := median(rx), median(tx)
	spikes := 0
	for i := range rx {
		if rx[i] > 3*mrx {
			spikes++
			if r := tx[i] / mtx; r > 2 {
				t.Errorf("minute %d: inbound spike %.1fx with outbound %.2fx usual, want outbound unchanged", i, rx[i]/mrx, r)
			}
		}
	}
	if lo, hi := binomialBand(0.01, n); float64(spikes)/n < lo || float64(spikes)/n > hi {
		t.Errorf("inbound spike minutes %d of %d, want about 1 %%", spikes, n)
	}
}

// Day 2 continues day 1: the counters at the start of day 2 are day 1's at its end, and the
// level-shifted services receive half as much while they send as much as before.
func TestDay2HalvesInboundOfShiftedServices(t *testing.T) {
	const seed = 9
	day1 := mustNew(t, railOnly(1), nil, seed)
	day2, err := New(railOnly(2), nil, seed, testStart.Add(daySeconds*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	end1 := scrape(t, day1, daySeconds)
	start2 := scrape(t, day2, 0)
	for name, c := range end1 {
		if d := start2[name]; d.rx != c.rx || d.tx != c.tx || !d.podStart.Equal(c.podStart) || d.uid != c.uid {
			t.Errorf("%s: day 1 ends at rx %d tx %d (pod start %v), day 2 starts at rx %d tx %d (pod start %v)",
				name, c.rx, c.tx, c.podStart, d.rx, d.tx, d.podStart)
		}
	}
	// Means over the same hours of both days: 10:00-24:00, clear of the seat service's surge.
	from, n := int64(10*3600), 14*60
	for _, tc := range []struct {
		svc        string
		rxLo, rxHi float64
	}{
		{"train-info", 0.45, 0.55}, // configured 0.5
		{"station", 0.45, 0.55},    // configured 0.5
		{"pricing", 0.40, 0.50},    // configured 0.45
		{"booking", 0.9, 1.1},      // no shift
		{"seat", 0.9, 1.1},         // a daily surge, the same each day
	} {
		rx1, tx1 := slotRates(simPodOf(t, day1, tc.svc), from, n, 60)
		rx2, tx2 := slotRates(simPodOf(t, day2, tc.svc), from, n, 60)
		if r := meanOf(rx2) / meanOf(rx1); r < tc.rxLo || r > tc.rxHi {
			t.Errorf("%s: day 2 / day 1 mean inbound %.3f, want %.2f..%.2f", tc.svc, r, tc.rxLo, tc.rxHi)
		}
		if r := meanOf(tx2) / meanOf(tx1); r < 0.9 || r > 1.1 {
			t.Errorf("%s: day 2 / day 1 mean outbound %.3f, want about 1", tc.svc, r)
		}
	}
}

// The day-2 baseline is day 1's traffic: so the shifted services' outbound:inbound is about
// twice its baseline average on day 2.
func TestDay2BaselineIsDay1(t *testing.T) {
	day2 := mustNew(t, railOnly(2), nil, 3)
	rows, err := day2.Baseline(360, 60e9) // the last 6 hours of day 1
	if err != nil {
		t.Fatal(err)
	}
	var avg float64
	for _, r := range rows {
		if strings.HasSuffix(r.Key, ":train-info") {
			avg = r.AvgOutIn
		}
	}
	rx, tx := slotRates(simPodOf(t, day2, "train-info"), 0, 360, 60)
	var ratios []float64
	for i := range rx {
		ratios = append(ratios, tx[i]/rx[i])
	}
	if r := median(ratios) / avg; r < 1.6 || r > 2.4 {
		t.Errorf("train-info: day 2 median out:in / day-2 baseline average %.2f, want about 2", r)
	}
}

// The surge: inbound about 8x its usual level from 01:00 to 08:00 every day, outbound flat.
func TestDailySurge(t *testing.T) {
	for day := 1; day <= 2; day++ {
		sim := mustNew(t, railOnly(day), nil, 11)
		p := simPodOf(t, sim, "seat")
		rxS, txS := slotRates(p, 3600, 7*60, 60)
		rxN, txN := slotRates(p, 9*3600, 14*60, 60)
		if r := median(rxS) / median(rxN); r < 6.5 || r > 9.5 {
			t.Errorf("day %d: seat inbound in the surge %.2fx usual, want about 8", day, r)
		}
		if r := median(txS) / median(txN); r < 0.9 || r > 1.1 {
			t.Errorf("day %d: seat outbound in the surge %.2fx usual, want about 1", day, r)
		}
	}
}

// Adding the rail services changes nothing of the default estate's pods: same names, same
// counters; and day 1 is what a config without a day simulates.
func TestMixedKeepsTheDefaultEstate(t *testing.T) {
	def := mustNew(t, DefaultConfig(), nil, 2)
	mixed := mustNew(t, MixedConfig(), nil, 2)
	day1 := MixedConfig()
	day1.Day = 1
	mixed1 := mustNew(t, day1, nil, 2)
	for _, at := range []float64{0, 7.5, 600} {
		d, m, m1 := scrape(t, def, at), scrape(t, mixed, at), scrape(t, mixed1, at)
		if len(m) != len(d)+10 {
			t.Fatalf("mixed estate has %d pods, default %d; want 10 more", len(m), len(d))
		}
		for name, c := range d {
			if mc, ok := m[name]; !ok || mc.rx != c.rx || mc.tx != c.tx || mc.uid != c.uid {
				t.Errorf("t=%v %s: default estate %+v, mixed %+v", at, name, c, mc)
			}
		}
		for name, c := range m {
			if m1[name].rx != c.rx || m1[name].tx != c.tx {
				t.Errorf("t=%v %s: day 0 and day 1 differ", at, name)
			}
		}
	}
}

func TestBadPatternsAreRejected(t *testing.T) {
	for name, mod := range map[string]func(*ServiceConfig){
		"idle probability":    func(s *ServiceConfig) { s.Idle = &IdleConfig{Probability: 0.7} },
		"idle seconds":        func(s *ServiceConfig) { s.Idle = &IdleConfig{Probability: 0.1, Seconds: 0.5} },
		"idle factor":         func(s *ServiceConfig) { s.Idle = &IdleConfig{Probability: 0.1, Out: -1} },
		"idle spread":         func(s *ServiceConfig) { s.Idle = &IdleConfig{Probability: 0.1, Spread: 3} },
		"spike direction":     func(s *ServiceConfig) { s.Spikes = &SpikeConfig{Probability: 0.1, Direction: "up"} },
		"spike min above max": func(s *ServiceConfig) { s.Spikes = &SpikeConfig{Probability: 0.1, Min: 10, Max: 5} },
		"change to before from": func(s *ServiceConfig) {
			s.Schedule = []RateChange{{From: 100, To: 50, In: 2}}
		},
		"every without to":    func(s *ServiceConfig) { s.Schedule = []RateChange{{From: 100, Every: 86400, In: 2}} },
		"every shorter":       func(s *ServiceConfig) { s.Schedule = []RateChange{{From: 0, To: 100, Every: 50, In: 2}} },
		"change factor":       func(s *ServiceConfig) { s.Schedule = []RateChange{{From: 0, In: -2}} },
		"change from not set": func(s *ServiceConfig) { s.Schedule = []RateChange{{From: math.Inf(1)}} },
	} {
		cfg := DefaultConfig()
		mod(&cfg.Services[0])
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := DefaultConfig()
	cfg.Day = maxDay + 1
	if cfg.Validate() == nil {
		t.Errorf("day %d accepted", cfg.Day)
	}
	mixed := MixedConfig()
	if err := mixed.Validate(); err != nil {
		t.Errorf("mixed estate: %v", err)
	}
}

// A schedule repeating every day applies before its first from too (the baseline's side).
func TestRecurringChangeBeforeFrom(t *testing.T) {
	c := stepChange{from: 3600, to: 7200, every: 86400, in: 8, out: 1}
	for _, tc := range []struct {
		ke   int64
		want bool
	}{{3599, false}, {3600, true}, {7199, true}, {7200, false}, {3600 - 86400, true}, {-1, false}, {2*86400 + 5000, true}} {
		if got := c.active(tc.ke); got != tc.want {
			t.Errorf("active(%d) = %v, want %v", tc.ke, got, tc.want)
		}
	}
	shift := stepChange{from: 86400, to: -1, in: 0.5, out: 1}
	if shift.active(86399) || !shift.active(86400) || !shift.active(10*86400) {
		t.Error("a level shift applies from its from on, for good")
	}
}
