package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// plainBuffer is the reorder buffer as it was before points took 16 bytes: 24-byte readings in
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

// The compact reorder buffer gives the same results as a plain sorted buffer of full readings,
// for every kind of point, under reordering, duplicates, points older than the anchor, counter
// restarts (new start times, in and out of order), deltas (a start time per point) and a full
// buffer.
func TestReorderBufferMatchesPlainBuffer(t *testing.T) {
	const span = int64(10e9)
	rng := rand.New(rand.NewPCG(9, 12))
	wideSeen := false
	for trial := range 3000 {
		kind := pointKind(trial % 3)
		s := &series{kind: kind, inbound: trial%2 == 0}
		ref := &plainBuffer{kind: kind, inbound: s.inbound}
		base := int64(1_700_000_000e9)
		clock := base // the sender's newest time
		start := base - 3600e9
		starts := 0
		newest := int64(0) // the latest point buffered so far
		for op := range 300 {
			if rng.IntN(5) == 0 {
				end := clock - rng.Int64N(40e9) + 5e9
				var got, want podSpan
				n, wantN := s.takeSpan(end, span, &got), ref.takeSpan(end, span, &want)
				if n != wantN || got != want || s.primed != ref.primed || s.anchor != ref.anchor {
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
				if rng.IntN(10) == 0 {
					v = rng.Float64() * 1e12
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
			if got := slices.Collect(s.points()); !slices.Equal(got, ref.buf) || int(s.count) != len(ref.buf) {
				t.Fatalf("trial %d op %d: buffer %+v (count %d), want %+v", trial, op, got, s.count, ref.buf)
			}
			if len(s.slots) > int(s.count) {
				wideSeen = true
			}
			if len(s.slots) > 0 && s.firstTime() != ref.buf[0].ts {
				t.Fatalf("trial %d op %d: first time %d, want %d", trial, op, s.firstTime(), ref.buf[0].ts)
			}
		}
	}
	if !wideSeen {
		t.Error("no point ever carried its own start time: the test does not reach that path")
	}
}

// A counter's points take 16 bytes each while their start time is the series', and the series
// goes back to that once the points of an older start are taken.
func TestReorderBufferSlots(t *testing.T) {
	s := &series{kind: cumulativePoint}
	const t0, life1, life2 = int64(1_000e9), int64(1), int64(2)
	for i := range int64(4) {
		s.offer(reading{ts: t0 + i*10e9, start: life1, v: float64(i)}, true)
	}
	if len(s.slots) != 4 {
		t.Fatalf("4 points of one life take %d slots, want 4", len(s.slots))
	}
	s.offer(reading{ts: t0 + 40e9, start: life2, v: 0}, true) // the counter restarted
	if len(s.slots) != 9 || s.start != life2 {
		t.Fatalf("after a restart: %d slots, start %d; want 9 (4 points of the old life with their start), %d", len(s.slots), s.start, life2)
	}
	var sums podSpan
	s.takeSpan(t0+40e9, 10e9, &sums) // the old life's points
	if len(s.slots) != 1 || s.count != 1 {
		t.Fatalf("after taking the old life: %d slots for %d points, want 1", len(s.slots), s.count)
	}
	if got := math.Float64bits(sums.in + sums.out); got != math.Float64bits(3) {
		t.Errorf("the old life's increase: %v, want 3", sums.in+sums.out)
	}
}
