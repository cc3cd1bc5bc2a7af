package profile

import (
	"math"
	"testing"
	"time"
)

func TestRecentLevel(t *testing.T) {
	t0 := time.Unix(1_700_000_040, 0) // a minute boundary: 1_700_000_040 = 28_333_334 x 60
	type span struct {
		min   int // minutes after t0 at which the span ends (plus off)
		off   time.Duration
		bytes float64 // bytes in the span
		cov   time.Duration
	}
	every := func(from, to int, rate float64, step time.Duration) (out []span) {
		for m := from; m < to; m++ {
			for o := step; o <= time.Minute; o += step {
				out = append(out, span{m, o, rate * step.Seconds(), step})
			}
		}
		return out
	}
	tests := []struct {
		name  string
		spans []span
		at    int // minutes after t0 at which the level is read
		want  float64
		ok    bool
	}{
		{"no data", nil, 30, 0, false},
		{"14 minutes are not enough", every(0, 14, 1000, time.Minute), 14, 0, false},
		{"15 minutes are", every(0, 15, 1000, time.Minute), 15, 1000, true},
		{"10 s spans give the same level as 60 s ones", every(0, 30, 1000, 10*time.Second), 30, 1000, true},
		// A 10-minute x10 attack inside 30 minutes leaves the median at the usual level.
		{"a 10-minute attack does not move it", append(every(0, 20, 1000, time.Minute), every(20, 30, 10000, time.Minute)...), 30, 1000, true},
		// A surge that has lasted more than half the look-back becomes the level.
		{"a 16-minute surge does", append(every(0, 14, 1000, time.Minute), every(14, 30, 8000, time.Minute)...), 30, 8000, true},
		{"minutes older than the look-back are forgotten", append(every(0, 30, 8000, time.Minute), every(30, 60, 1000, time.Minute)...), 60, 1000, true},
		{"a gap longer than the look-back empties it", every(0, 30, 1000, time.Minute), 75, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRecent(RecentMinutes)
			for _, s := range tt.spans {
				r.Add(t0.Add(time.Duration(s.min)*time.Minute+s.off), s.bytes, s.cov)
			}
			got, ok := r.Level(t0.Add(time.Duration(tt.at) * time.Minute))
			if ok != tt.ok || (ok && math.Abs(got-tt.want) > 1e-9) {
				t.Fatalf("level %g, %t; want %g, %t", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRecentIgnoresBadInput(t *testing.T) {
	r := NewRecent(4)
	t0 := time.Unix(1_700_000_040, 0)
	for m := 1; m <= 4; m++ {
		r.Add(t0.Add(time.Duration(m)*time.Minute), 60000, time.Minute)
	}
	r.Add(t0.Add(4*time.Minute), math.NaN(), time.Minute)
	r.Add(t0.Add(4*time.Minute), -5, time.Minute)
	r.Add(t0.Add(4*time.Minute), 1e9, 0)
	r.Add(t0.Add(-time.Hour), 1e9, time.Minute) // older than what the slot holds
	if got, ok := r.Level(t0.Add(4 * time.Minute)); !ok || got != 1000 {
		t.Fatalf("level %g, %t; want 1000, true", got, ok)
	}
}

func TestWithRecent(t *testing.T) {
	u := Usual{In: 1000, Out: 24000, InHigh: 1500, OutHigh: 40000}
	got := u.WithRecent(8000, 12000)
	if got.In != 8000 || got.Out != 24000 || got.InHigh != 1500 {
		t.Fatalf("%+v: want inbound raised to 8000, outbound kept at 24000, highs kept", got)
	}
	if got := u.WithRecent(math.NaN(), math.Inf(1)); got != u {
		t.Fatalf("unavailable levels changed the usual rates: %+v", got)
	}
	// The surge scenario end to end: 8x inbound is a download against the learned
	// level, and not once it has become the recent level.
	steady := learnPod(t, 0)
	if !Score(8000, 24000, steady, Recommended()).Download.Anomalous {
		t.Fatal("an unseen 8x inbound surge must count at its onset")
	}
	if Score(8000, 24000, steady.WithRecent(7000, 0), Recommended()).Download.Anomalous {
		t.Fatal("a surge that has become the recent level must not count")
	}
	if !Score(70000, 24000, steady.WithRecent(7000, 0), Recommended()).Download.Anomalous {
		t.Fatal("a x10 download on top of the surge must count")
	}
}
