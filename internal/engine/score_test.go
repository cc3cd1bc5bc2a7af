package engine

import (
	"context"
	"math"
	"testing"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

// scoreOne runs one pod-span of webPod with the given increases through the engine (prime at
// t0+5, traffic at t0+15 in span [10,20), then a scrape at t0+25 that starts the next span and so
// completes [10,20)) in immediate mode with threshold 0, so that one anomalous span is one event,
// and returns that span's text ("" when it did not flag).
func scoreOne(t *testing.T, csv string, in, out int64, opts ...func(*Config)) (string, *harness) {
	t.Helper()
	h := newHarness(t, csv, append([]func(*Config){immediateAny}, opts...)...)
	h.spans(webPod, 5, 1, in, out)
	h.feed(25, traffic{webPod, 0, 0})
	evs := h.takeEvents()
	switch len(evs) {
	case 0:
		return "", h
	case 1:
		if len(evs[0].Anomalies) != 1 {
			t.Fatalf("anomalies = %q, want one text", evs[0].Anomalies)
		}
		return evs[0].Anomalies[0], h
	}
	t.Fatalf("got %d events: %s", len(evs), describeEvents(evs))
	return "", nil
}

func TestAnomalyTextRatio(t *testing.T) {
	tests := []struct {
		name    string
		in, out int64
		want    string
	}{
		// in/out = 300/100 = 3 > 0.5 + 4*0.125 = 1; z = (3 - 0.5)/0.125 = 20. out/in = 1/3 < 4.
		{"inbound:outbound", 300, 100, webText3},
		// out/in = 500/100 = 5 > 2 + 4*0.5 = 4; z = (5 - 2)/0.5 = 6. in/out = 0.2 < 1.
		{"outbound:inbound", 100, 500, "outbound:inbound ratio higher than average by 6 Standard Deviations. " +
			"outbound:inbound=5 avg_outbound:inbound=2 'stdev_outbound:inbound'=0.5"},
		// in/out = 0.5, out/in = 2: exactly the averages, nothing flags.
		{"normal", 50, 100, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := scoreOne(t, ratioCSV, tc.in, tc.out)
			if got != tc.want {
				t.Errorf("text\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

const volumeCSV = "key,avg_inbound_network_io,stdev_inbound_network_io,avg_outbound_network_io,stdev_outbound_network_io\n" +
	"prod:web,1000,100,2000,100\n"

func TestAnomalyTextVolume(t *testing.T) {
	// in = 1500 > 1000 + 4*100 = 1400; z = 500/100 = 5. out = 2000 is not above 2400.
	// The volume text has no word "ratio".
	got, _ := scoreOne(t, volumeCSV, 1500, 2000)
	want := "inbound_network_io higher than average by 5 Standard Deviations. " +
		"inbound_network_io=1500 avg_inbound_network_io=1000 'stdev_inbound_network_io'=100"
	if got != want {
		t.Errorf("text\n got %q\nwant %q", got, want)
	}
}

// TestAnomalyTextOrderFollowsStdevColumns: the file lists stdev_outbound_network_io before
// stdev_inbound_network_io, so the outbound text comes first (the search's foreach stdev_*),
// joined by ", " and with no trailing separator.
func TestAnomalyTextOrderFollowsStdevColumns(t *testing.T) {
	csv := "key,avg_inbound_network_io,avg_outbound_network_io,stdev_outbound_network_io,stdev_inbound_network_io\n" +
		"prod:web,1000,2000,100,100\n"
	// in = 1500: z = (1500-1000)/100 = 5; out = 2600 > 2400: z = (2600-2000)/100 = 6.
	got, _ := scoreOne(t, csv, 1500, 2600)
	want := "outbound_network_io higher than average by 6 Standard Deviations. " +
		"outbound_network_io=2600 avg_outbound_network_io=2000 'stdev_outbound_network_io'=100, " +
		"inbound_network_io higher than average by 5 Standard Deviations. " +
		"inbound_network_io=1500 avg_inbound_network_io=1000 'stdev_inbound_network_io'=100"
	if got != want {
		t.Errorf("text\n got %q\nwant %q", got, want)
	}
}

// TestAnomalyTextRatioAndVolume: ratio columns first in the file, so the ratio text comes first.
func TestAnomalyTextRatioAndVolume(t *testing.T) {
	csv := "key,avg_inbound:outbound,stdev_inbound:outbound,avg_inbound_network_io,stdev_inbound_network_io\n" +
		"prod:web,0.5,0.125,1000,100\n"
	// in/out = 1500/500 = 3: z = 20 as in webText3 (with 1500/500 for the values);
	// in = 1500: z = 5.
	got, _ := scoreOne(t, csv, 1500, 500)
	want := "inbound:outbound ratio higher than average by 20 Standard Deviations. " +
		"inbound:outbound=3 avg_inbound:outbound=0.5 'stdev_inbound:outbound'=0.125, " +
		"inbound_network_io higher than average by 5 Standard Deviations. " +
		"inbound_network_io=1500 avg_inbound_network_io=1000 'stdev_inbound_network_io'=100"
	if got != want {
		t.Errorf("text\n got %q\nwant %q", got, want)
	}
}

// TestNumberFormatting: shortest exact decimals, no exponent, integers without ".0".
func TestNumberFormatting(t *testing.T) {
	t.Run("big integer and exponent cells", func(t *testing.T) {
		// The cells "1e-5" and "2.5e3" print as 0.00001 and 2500. out = 12345678901 bytes:
		// z = (12345678901 - 0.00001)/2500 = 4938271.560399996 -> 4938271.56.
		csv := "key,avg_outbound_network_io,stdev_outbound_network_io\nprod:web,1e-5,2.5e3\n"
		got, _ := scoreOne(t, csv, 1, 12345678901)
		want := "outbound_network_io higher than average by 4938271.56 Standard Deviations. " +
			"outbound_network_io=12345678901 avg_outbound_network_io=0.00001 'stdev_outbound_network_io'=2500"
		if got != want {
			t.Errorf("text\n got %q\nwant %q", got, want)
		}
	})
	t.Run("0.1+0.2", func(t *testing.T) {
		// A gauge (already per-span values) lets the value be any double: 0.1+0.2 is
		// 0.30000000000000004 in float64, and prints so. z = 0.30000000000000004/0.01 rounds to 30.
		csv := "key,avg_inbound_network_io,stdev_inbound_network_io\nprod:web,0,0.01\n"
		h := newHarness(t, csv, immediateAny)
		x := 0.1
		h.consume(newMD().add(webPod, gaugeMetric,
			fp("eth0", "receive", 15, x+0.2), fp("eth0", "transmit", 15, 1)).md)
		h.e.Flush(context.Background())
		ev := mustOneEvent(t, h.takeEvents())
		want := "inbound_network_io higher than average by 30 Standard Deviations. " +
			"inbound_network_io=0.30000000000000004 avg_inbound_network_io=0 'stdev_inbound_network_io'=0.01"
		if len(ev.Anomalies) != 1 || ev.Anomalies[0] != want {
			t.Errorf("anomalies\n got %q\nwant [%q]", ev.Anomalies, want)
		}
	})
}

// TestZRoundsHalfAwayFromZero: z = 33/8 = 4.125 and 35/8 = 4.375 are exact in binary, so the
// rounding rule decides: half away from zero gives 4.13 and 4.38 (banker's rounding: 4.12, 4.38).
func TestZRoundsHalfAwayFromZero(t *testing.T) {
	csv := "key,avg_inbound_network_io,stdev_inbound_network_io,avg_outbound_network_io,stdev_outbound_network_io\n" +
		"prod:web,0,8,0,8\n"
	// Both flag: 33 and 35 are above 0 + 4*8 = 32.
	got, _ := scoreOne(t, csv, 33, 35)
	want := "inbound_network_io higher than average by 4.13 Standard Deviations. " +
		"inbound_network_io=33 avg_inbound_network_io=0 'stdev_inbound_network_io'=8, " +
		"outbound_network_io higher than average by 4.38 Standard Deviations. " +
		"outbound_network_io=35 avg_outbound_network_io=0 'stdev_outbound_network_io'=8"
	if got != want {
		t.Errorf("text\n got %q\nwant %q", got, want)
	}
}

func TestRoundHalfAway(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		want string
	}{
		{4.125, "4.13"}, {4.375, "4.38"}, {-4.125, "-4.13"}, {20, "20"}, {0.004, "0"}, {-0.004, "0"},
		{3.14159, "3.14"}, {1e6 + 0.125, "1000000.13"},
	} {
		if got := baseline.FormatNumber(roundHalfAway(tc.x, 2)); got != tc.want {
			t.Errorf("round(%v, 2) prints %q, want %q", tc.x, got, tc.want)
		}
	}
}

// TestStrictlyGreater: in/out = 100/100 = 1 is exactly 0.5 + 4*0.125 and must not flag;
// 101/100 = 1.01 flags with z = (1.01-0.5)/0.125 = 4.08.
func TestStrictlyGreater(t *testing.T) {
	if got, _ := scoreOne(t, ratioCSV, 100, 100); got != "" {
		t.Errorf("value equal to avg + 4*stdev flagged: %q", got)
	}
	// Same for a volume: 1400 = 1000 + 4*100.
	if got, _ := scoreOne(t, volumeCSV, 1400, 2000); got != "" {
		t.Errorf("volume equal to avg + 4*stdev flagged: %q", got)
	}
	got, _ := scoreOne(t, ratioCSV, 101, 100)
	want := "inbound:outbound ratio higher than average by 4.08 Standard Deviations. " +
		"inbound:outbound=1.01 avg_inbound:outbound=0.5 'stdev_inbound:outbound'=0.125"
	if got != want {
		t.Errorf("text\n got %q\nwant %q", got, want)
	}
}

// TestStdevMultiplierConfigured: in/out = 0.9 stays below 1 with k = 4 but is above
// 0.5 + 2*0.125 = 0.75 with k = 2; z = 0.4/0.125 = 3.2.
func TestStdevMultiplierConfigured(t *testing.T) {
	if got, _ := scoreOne(t, ratioCSV, 90, 100); got != "" {
		t.Fatalf("k=4 flagged %q", got)
	}
	got, _ := scoreOne(t, ratioCSV, 90, 100, func(c *Config) { c.StdevMultiplier = 2 })
	want := "inbound:outbound ratio higher than average by 3.2 Standard Deviations. " +
		"inbound:outbound=0.9 avg_inbound:outbound=0.5 'stdev_inbound:outbound'=0.125"
	if got != want {
		t.Errorf("text\n got %q\nwant %q", got, want)
	}
}

// TestZeroTraffic: with in = out = 0 both ratios are undefined (0/0) and not scored, while the
// volume signals are defined and equal 0. The stats have avg -10, stdev 1 for every signal,
// so anything defined and >= -5 flags: a ratio computed as 0 (or anything finite) would show.
// A baseline file refuses a negative avg, so the stats are built here, not parsed.
func TestZeroTraffic(t *testing.T) {
	var stats [baseline.NumSignals]baseline.Stat
	for s := range stats {
		stats[s] = baseline.Stat{Avg: -10, Stdev: 1, Scorable: true}
	}
	order := []baseline.Signal{baseline.InboundOutbound, baseline.OutboundInbound, baseline.InboundIO, baseline.OutboundIO}
	got := score(&stats, order, 0, 0, 4).text
	// z = (0 - -10)/1 = 10.
	want := "inbound_network_io higher than average by 10 Standard Deviations. " +
		"inbound_network_io=0 avg_inbound_network_io=-10 'stdev_inbound_network_io'=1, " +
		"outbound_network_io higher than average by 10 Standard Deviations. " +
		"outbound_network_io=0 avg_outbound_network_io=-10 'stdev_outbound_network_io'=1"
	if got != want {
		t.Errorf("text\n got %q\nwant %q", got, want)
	}
	// in = 100, out = 0: inbound:outbound is undefined (not +Inf), outbound:inbound = 0/100 = 0
	// is defined: z = 10.
	got = score(&stats, order, 100, 0, 4).text
	want = "outbound:inbound ratio higher than average by 10 Standard Deviations. " +
		"outbound:inbound=0 avg_outbound:inbound=-10 'stdev_outbound:inbound'=1, " +
		"inbound_network_io higher than average by 110 Standard Deviations. " +
		"inbound_network_io=100 avg_inbound_network_io=-10 'stdev_inbound_network_io'=1, " +
		"outbound_network_io higher than average by 10 Standard Deviations. " +
		"outbound_network_io=0 avg_outbound_network_io=-10 'stdev_outbound_network_io'=1"
	if got != want {
		t.Errorf("text\n got %q\nwant %q", got, want)
	}
}

// TestNeverFlags: cases where in/out = 3 (far above avg 0.5) must not flag, and the span is
// still counted as scored but not as anomalous.
func TestNeverFlags(t *testing.T) {
	tests := []struct {
		name, csv string
		pod       podRes
	}{
		// stdev 0 would make every value above avg flag (with z = +Inf).
		{"stdev 0", "key,avg_inbound:outbound,stdev_inbound:outbound\nprod:web,0.5,0\n", webPod},
		{"key missing", "key,avg_inbound:outbound,stdev_inbound:outbound\nprod:api,0.5,0.125\n", webPod},
		{"key of another cluster", "key,avg_inbound:outbound,stdev_inbound:outbound\nstaging:web,0.5,0.125\n", webPod},
		// A blank avg read as 0 would flag (3 > 0 + 0.5).
		{"blank avg", "key,avg_inbound:outbound,stdev_inbound:outbound\nprod:web,,0.125\n", webPod},
		// A blank stdev read as 0 is the stdev-0 case.
		{"blank stdev", "key,avg_inbound:outbound,stdev_inbound:outbound\nprod:web,0.5,\n", webPod},
		{"all blank", "key,avg_inbound:outbound,stdev_inbound:outbound\nprod:web,,\n", webPod},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, h := scoreOne(t, tc.csv, 300, 100)
			if got != "" {
				t.Errorf("flagged: %q", got)
			}
			if n := h.counter("spans_scored", ""); n != 1 {
				t.Errorf("spans_scored = %d, want 1", n)
			}
			if n := h.counter("spans_anomalous", ""); n != 0 {
				t.Errorf("spans_anomalous = %d, want 0", n)
			}
		})
	}
}

// TestBlankCellOnlyDisablesItsSignal: inbound:outbound has a blank avg for the key, so only
// outbound:inbound is scored: in/out = 100/500: out/in = 5 > 4, z = 6.
func TestBlankCellOnlyDisablesItsSignal(t *testing.T) {
	csv := "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound\n" +
		"prod:web,,2,0.125,0.5\n"
	// in/out = 3000/500 = 6 would flag if the blank avg were read as 0 (6 > 0 + 4*0.125);
	// out/in = 1/6 is below 4: nothing may flag.
	if got, _ := scoreOne(t, csv, 3000, 500); got != "" {
		t.Errorf("blank avg_inbound:outbound scored: %q", got)
	}
	got, _ := scoreOne(t, csv, 100, 500)
	want := "outbound:inbound ratio higher than average by 6 Standard Deviations. " +
		"outbound:inbound=5 avg_outbound:inbound=2 'stdev_outbound:inbound'=0.5"
	if got != want {
		t.Errorf("text\n got %q\nwant %q", got, want)
	}
}

// TestSignalOf: the search's evals, a ratio with a zero denominator null (not +Inf or NaN).
func TestSignalOf(t *testing.T) {
	const io, oi, in, out = baseline.InboundOutbound, baseline.OutboundInbound, baseline.InboundIO, baseline.OutboundIO
	for _, c := range []struct {
		s       baseline.Signal
		in, out float64
		want    float64
		ok      bool
	}{
		{io, 0, 0, 0, false}, {oi, 0, 0, 0, false}, {in, 0, 0, 0, true}, {out, 0, 0, 0, true},
		{io, 300, 100, 3, true}, {oi, 300, 100, 1.0 / 3, true}, {in, 300, 100, 300, true}, {out, 300, 100, 100, true},
		{io, 100, 0, 0, false}, {oi, 100, 0, 0, true},
		{io, 0, 100, 0, true}, {oi, 0, 100, 0, false},
		{baseline.NumSignals, 300, 100, 0, false},
	} {
		v, ok := signalOf(c.s, c.in, c.out)
		if ok != c.ok || (ok && v != c.want) || math.IsInf(v, 0) || math.IsNaN(v) {
			t.Errorf("signalOf(%v, %v, %v) = %v, %v; want %v, %v", c.s, c.in, c.out, v, ok, c.want, c.ok)
		}
	}
}
