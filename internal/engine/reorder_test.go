package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// plainBuffer is the reorder buffer as it was before points became words: 24-byte readings in
// one sorted slice, each with its start time. The compact buffer must answer as it does.
type plainBuffer struct {
	kind    pointKind
	inbound bool
	primed  bool
	anchor  reading
	buf     []reading
}

func (s *plainBuffer) offer(r reading) bufferResult {
	if s.primed && r.ts <= s.anchor.ts {
		return tooOld
	}
	i := sort.Search(len(s.buf), func(j int) bool { return s.buf[j].ts >= r.ts })
	if i < len(s.buf) && s.buf[i].ts == r.ts {
		return duplicate
	}
	if len(s.buf) >= maxBuffered {
		return bufferFull
	}
	s.buf = slices.Insert(s.buf, i, r)
	return buffered
}

func (s *plainBuffer) takeSpan(end, span int64, sums *podSpan) int {
	var total, gauge float64
	var gauges, taken int
	var covered int64
	contributed := false
	for taken < len(s.buf) && s.buf[taken].ts < end {
		r := s.buf[taken]
		taken++
		switch s.kind {
		case cumulativePoint:
			if !s.primed {
				s.primed, s.anchor = true, r
				continue
			}
			inc := r.v - s.anchor.v
			covered += r.ts - s.anchor.ts
			if r.v < s.anchor.v || r.start != s.anchor.start {
				inc = r.v
			}
			s.anchor = r
			total += inc
		case deltaPoint:
			total += r.v
			if r.start > 0 && r.start < r.ts {
				covered += r.ts - r.start
			} else {
				covered += span
			}
		case gaugePoint:
			gauge += r.v
			gauges++
			covered = max(covered, span)
		}
		contributed = true
	}
	s.buf = s.buf[taken:]
	if taken == 0 || !contributed {
		return taken
	}
	if gauges > 0 {
		total += gauge / float64(gauges)
	}
	sums.covered = max(sums.covered, covered)
	if s.inbound {
		sums.in, sums.hasIn = sums.in+total, true
	} else {
		sums.out, sums.hasOut = sums.out+total, true
	}
	return taken
}

// wordForms counts the buffer's points by the words they take: one, two (time and value) or
// three (with a start time of their own).
func wordForms(s *series) (forms [4]int) {
	w := s.words()
	for i := 0; i < len(w); {
		_, next := at(w, i, s.anchor)
		forms[next-i]++
		i = next
	}
	return forms
}

// sameReadings compares values bit for bit: a -0 read back as 0 is a different point.
func sameReadings(a, b []reading) bool {
	return slices.EqualFunc(a, b, func(x, y reading) bool {
		return x.ts == y.ts && x.start == y.start && math.Float64bits(x.v) == math.Float64bits(y.v)
	})
}

// The compact reorder buffer gives the same results as a plain sorted buffer of full readings,
// for every kind of point, under reordering, duplicates, points older than the anchor, counter
// restarts (new start times, in and out of order), deltas (a start time per point), values at
// and past what one word holds, and a full buffer.
func TestReorderBufferMatchesPlainBuffer(t *testing.T) {
	const span = int64(10e9)
	rng := rand.New(rand.NewPCG(9, 12))
	var seen [4]int
	spills, movesIn := 0, 0 // the words leaving the series for memory of their own, and coming back
	for trial := range 3000 {
		kind := pointKind(trial % 3)
		s := &series{kind: kind, inbound: trial%2 == 0}
		ref := &plainBuffer{kind: kind, inbound: s.inbound}
		base := int64(1_700_000_000e9)
		clock := base // the sender's newest time
		start := base - 3600e9
		starts := 0
		newest := int64(0) // the latest point buffered so far
		wasSpilled := false
		for op := range 300 {
			if rng.IntN(5) == 0 {
				end := clock - rng.Int64N(40e9) + 5e9
				var got, want podSpan
				n, wantN := s.takeSpan(end, span, &got), ref.takeSpan(end, span, &want)
				if n != wantN || got != want || s.primed != ref.primed || s.primed && s.anchor != ref.anchor {
					t.Fatalf("trial %d op %d takeSpan(%d): %d %+v anchor %+v, want %d %+v anchor %+v",
						trial, op, end, n, got, s.anchor, wantN, want, ref.anchor)
				}
			} else {
				if rng.IntN(4) > 0 {
					clock += 1e9 + rng.Int64N(10e9)
				}
				ts := clock - rng.Int64N(30e9) // up to 30 s late
				if rng.IntN(6) == 0 {
					ts = clock - rng.Int64N(3)*10e9 // the same time as another point
				}
				if rng.IntN(15) == 0 {
					start, starts = ts-rng.Int64N(5e9), starts+1 // a restart
				}
				pointStart := start
				switch {
				case kind == deltaPoint:
					pointStart = ts - 10e9
				case rng.IntN(20) == 0:
					pointStart = start - 7e9 // a point of an older life, out of order
				}
				v := float64(rng.IntN(1_000_000))
				switch rng.IntN(20) {
				case 0, 1:
					v = rng.Float64() * 1e12
				case 2, 3: // at and just past the one-word value difference, either side
					v = ref.anchor.v + float64([]int{shortDvMax, shortDvMax + 1, shortDvMin, shortDvMin - 1}[rng.IntN(4)])
				case 4:
					v = math.Copysign(0, -1)
				case 5: // integers past float64's 2^53: not every difference reads back exactly
					v = 1<<53 + float64(rng.IntN(64))
				}
				r := reading{ts: ts, start: pointStart, v: v}
				latest := r.ts > newest // as ingest knows it: later than any point the pod took
				if got, want := s.offer(r, latest), ref.offer(r); got != want {
					t.Fatalf("trial %d op %d offer(%+v, %t) = %d, want %d", trial, op, r, latest, got, want)
				}
				if got := s.count; got > 0 {
					newest = max(newest, ref.buf[len(ref.buf)-1].ts)
				}
			}
			if got := slices.Collect(s.points()); !sameReadings(got, ref.buf) || int(s.count) != len(ref.buf) {
				t.Fatalf("trial %d op %d: buffer %+v (count %d), want %+v", trial, op, got, s.count, ref.buf)
			}
			forms := wordForms(s)
			for k, n := range forms {
				seen[k] += n
			}
			if len(s.words()) > 0 && s.firstTime() != ref.buf[0].ts {
				t.Fatalf("trial %d op %d: first time %d, want %d", trial, op, s.firstTime(), ref.buf[0].ts)
			}
			if s.spill != nil && len(s.words()) <= inlineWords/2 || s.spill == nil && s.nWords > inlineWords {
				t.Fatalf("trial %d op %d: %d words, spilled %t", trial, op, len(s.words()), s.spill != nil)
			}
			if spilled := s.spill != nil; spilled != wasSpilled {
				spills, movesIn = spills+b2i(spilled), movesIn+b2i(!spilled)
				wasSpilled = spilled
			}
		}
	}
	if seen[1] == 0 || seen[2] == 0 || seen[3] == 0 {
		t.Errorf("points in one, two, three words: %v; the test does not reach every form", seen[1:])
	}
	if spills == 0 || movesIn == 0 {
		t.Errorf("words spilled %d times and moved back %d times; the test does not reach both", spills, movesIn)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A counter's points take one word each once the series is primed and while they share its
// start time; the words are written again as the anchor moves, and the memory the unprimed
// points took is given back.
func TestReorderBufferWords(t *testing.T) {
	s := &series{kind: cumulativePoint}
	const t0, life1, life2 = int64(1_000e9), int64(1), int64(2)
	for i := range int64(4) {
		s.offer(reading{ts: t0 + i*10e9, start: life1, v: float64(1000 * i)}, true)
	}
	if got := wordForms(s); got != [4]int{0, 0, 4, 0} {
		t.Fatalf("4 points before the series is primed: forms %v, want 4 of two words", got[1:])
	}
	var sums podSpan
	s.takeSpan(t0+1, 10e9, &sums) // the first point primes
	if got := wordForms(s); got != [4]int{0, 3, 0, 0} || s.spill != nil {
		t.Fatalf("after priming: forms %v, spilled %t; want 3 of one word in the series itself", got[1:], s.spill != nil)
	}
	s.offer(reading{ts: t0 + 40e9, start: life2, v: 5}, true) // the counter restarted
	if got := wordForms(s); got != [4]int{0, 3, 0, 1} || s.anchor.start != life1 {
		t.Fatalf("after a restart: forms %v, anchor's start %d; want the old life's 3 points in one word and the new one with its start",
			got[1:], s.anchor.start)
	}
	sums = podSpan{}
	s.takeSpan(t0+40e9, 10e9, &sums) // the old life's points
	if got := wordForms(s); got != [4]int{0, 0, 0, 1} || s.count != 1 {
		t.Fatalf("after taking the old life: forms %v for %d points, want the new life's one point with its start", got[1:], s.count)
	}
	if got := sums.in + sums.out; got != 3000 {
		t.Errorf("the old life's increase: %v, want 3000", got)
	}
	s.offer(reading{ts: t0 + 50e9, start: life2, v: 7}, true)
	sums = podSpan{}
	s.takeSpan(t0+50e9, 10e9, &sums) // the restart is the anchor now: its start is the one shared
	if got := wordForms(s); got != [4]int{0, 1, 0, 0} || s.anchor.start != life2 {
		t.Fatalf("after taking the restart: forms %v, anchor's start %d; want one point of one word, %d", got[1:], s.anchor.start, life2)
	}
	if got := sums.in + sums.out; got != 5 {
		t.Errorf("the increase over the restart: %v, want 5 (the new life's count)", got)
	}

	// What one word holds, against an anchor at t0 and 2^40.
	s = &series{kind: cumulativePoint, primed: true, anchor: reading{ts: t0, start: life1, v: 1 << 40}}
	for _, c := range []struct {
		name  string
		dt    int64
		v     float64
		words int
	}{
		{"the largest time step", shortDtMax, 1<<40 + 1, 1},
		{"past the largest time step", shortDtMax + 1, 1<<40 + 1, 2},
		{"the largest increase", 1, 1<<40 + shortDvMax, 1},
		{"past the largest increase", 1, 1<<40 + shortDvMax + 1, 2},
		{"the largest decrease", 1, 1<<40 + shortDvMin, 1},
		{"past the largest decrease", 1, 1<<40 + shortDvMin - 1, 2},
		{"a fraction", 1, 1<<40 + 0.5, 2},
	} {
		s.keep(nil)
		s.count = 0
		r := reading{ts: t0 + c.dt, start: life1, v: c.v}
		s.offer(r, true)
		if got := slices.Collect(s.points()); len(s.words()) != c.words || !sameReadings(got, []reading{r}) {
			t.Errorf("%s: %d words reading back %+v, want %d reading back %+v", c.name, len(s.words()), got, c.words, r)
		}
	}
	// Values with fractions: each point reads back exactly against the first anchor, but the
	// second point, shifted by the first's difference, would not against the next one.
	a := 0.0008213655525960464
	s = &series{kind: cumulativePoint, primed: true, anchor: reading{ts: t0, start: life1, v: a}}
	next, later := reading{ts: t0 + 1, start: life1, v: a - 12469024}, reading{ts: t0 + 2, start: life1, v: a + 3191924}
	s.offer(next, true)
	s.offer(later, true)
	if got := wordForms(s); got != [4]int{0, 2, 0, 0} {
		t.Fatalf("fractional points: forms %v, want 2 of one word", got[1:])
	}
	s.takeSpan(t0+2, 10e9, &sums)
	if got := slices.Collect(s.points()); !sameReadings(got, []reading{later}) {
		t.Errorf("after the anchor moved: %+v, want %+v", got, later)
	}

	s.anchor.v = 0 // a -0 differs from the anchor's 0 by nothing, but does not read back as itself
	s.keep(nil)
	s.count = 0
	s.offer(reading{ts: t0 + 10, start: life1, v: math.Copysign(0, -1)}, true)
	if len(s.words()) != 2 {
		t.Errorf("-0 after 0 takes %d words, want 2", len(s.words()))
	}
}

// A counter's steady flow (a point every 10 s, spans taken 30 s late: at most five wait) keeps
// its words in the series itself; points past inlineWords spill them into memory of their own,
// and they come back once few are left.
func TestReorderBufferInline(t *testing.T) {
	s := &series{kind: cumulativePoint}
	const t0 = int64(1_000e9)
	var want []reading
	offer := func(ts int64) {
		r := reading{ts: ts, start: 1, v: float64(ts / 1e7)}
		if got := s.offer(r, true); got != buffered {
			t.Fatalf("offer at %d: %d", ts, got)
		}
		want = append(want, r)
	}
	take := func(end int64) {
		var sums podSpan
		s.takeSpan(end, 10e9, &sums)
		for len(want) > 0 && want[0].ts < end {
			want = want[1:]
		}
		if got := slices.Collect(s.points()); !sameReadings(got, want) {
			t.Fatalf("after taking up to %d: %+v, want %+v", end, got, want)
		}
	}
	ts := t0
	for i := range 30 {
		ts = t0 + int64(i)*10e9
		offer(ts)
		if i >= 5 && s.spill != nil {
			t.Fatalf("point %d of a steady flow: %d words spilled", i, len(s.words()))
		}
		take(ts - 30e9)
		if i >= 4 && (s.spill != nil || len(s.words()) != 4) {
			t.Fatalf("after point %d of a steady flow: %d words, spilled %t; want 4 in the series", i, len(s.words()), s.spill != nil)
		}
	}
	offer(ts + 5e9)
	offer(ts + 7e9)
	if s.spill == nil || len(s.words()) != 6 {
		t.Fatalf("6 words, spilled %t; want them spilled", s.spill != nil)
	}
	take(ts - 10e9)
	if s.spill == nil || len(s.words()) != 4 {
		t.Fatalf("%d words left, spilled %t; want 4 still spilled", len(s.words()), s.spill != nil)
	}
	take(ts + 1)
	if s.spill != nil || len(s.words()) != 2 {
		t.Fatalf("%d words left, spilled %t; want 2 back in the series", len(s.words()), s.spill != nil)
	}
}

// A steady flow allocates nothing per point: a counter's words stay in the series, and deltas,
// whose every point has a start of its own, are not written again at each point to share the
// newest one's start.
func TestReorderBufferSteadyFlowAllocates(t *testing.T) {
	for _, kind := range []pointKind{cumulativePoint, deltaPoint} {
		s := &series{kind: kind}
		ts, v := int64(1_000e9), 0.0
		step := func() {
			ts, v = ts+10e9, v+5
			r := reading{ts: ts, start: 1, v: v}
			if kind == deltaPoint {
				r.start, r.v = ts-10e9, 5
			}
			s.offer(r, true)
			var sums podSpan
			s.takeSpan(ts-30e9, 10e9, &sums)
		}
		for range 10 {
			step()
		}
		if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
			t.Errorf("kind %d: %v allocations per point", kind, allocs)
		}
	}
}
