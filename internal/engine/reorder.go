package engine

import (
	"iter"
	"math"
)

// A series' reorder buffer holds the points that wait for lateness, the largest part of the
// engine's memory (five points a series at a 10 s scrape with the default 30 s lateness). A point
// takes 16 bytes, one slot, when its start time is the series' start, as nearly every counter
// point's is; a point with a start time of its own (a counter reset arriving out of order, or a
// delta) takes a second slot for it.

// slot is 16 bytes of a reorder buffer: a point's time and value; or, after a point whose time
// carries wideBit, that point's start time.
type slot struct {
	ts int64
	v  float64
}

// wideBit marks a point followed by its own start time; times taken are never negative.
const wideBit = math.MinInt64

// bufferResult says what became of a point offered to a series.
type bufferResult uint8

const (
	buffered  bufferResult = iota
	tooOld                 // not newer than the point already taken: its place in time is gone
	duplicate              // the same timestamp is waiting already
	bufferFull
)

// maxBuffered bounds one series' reorder buffer; points wait in it for lateness plus a span.
const maxBuffered = 64

// at returns the point that starts at slot i and the slot of the next one.
func (s *series) at(i int) (reading, int) {
	if t := s.slots[i].ts; t < 0 {
		return reading{ts: t &^ wideBit, start: s.slots[i+1].ts, v: s.slots[i].v}, i + 2
	}
	return reading{ts: s.slots[i].ts, start: s.start, v: s.slots[i].v}, i + 1
}

// points are the buffered points in time order.
func (s *series) points() iter.Seq[reading] {
	return func(yield func(reading) bool) {
		for i := 0; i < len(s.slots); {
			r, next := s.at(i)
			if !yield(r) {
				return
			}
			i = next
		}
	}
}

// firstTime is the time of the oldest buffered point; the buffer must not be empty.
func (s *series) firstTime() int64 { return s.slots[0].ts &^ wideBit }

// offer puts a point into the series' reorder buffer at its place in time. latest says the point
// is later than every point the series holds, as a point in order is: it goes at the end without
// a look at the others.
func (s *series) offer(r reading, latest bool) bufferResult {
	if s.primed && r.ts <= s.anchor.ts {
		return tooOld
	}
	i := 0 // the slot the point goes in: before the first point at or after it
	if latest {
		i = len(s.slots)
	}
	for i < len(s.slots) {
		p, next := s.at(i)
		if p.ts >= r.ts {
			if p.ts == r.ts {
				return duplicate
			}
			break
		}
		i = next
	}
	if s.count >= maxBuffered {
		return bufferFull
	}
	switch {
	case s.count == 0:
		s.start = r.start
	case r.start != s.start && i == len(s.slots):
		// The newest point's start is the one the points to come share (a counter restarted):
		// the points before it keep their old start in slots of their own.
		s.widen()
		s.start, i = r.start, len(s.slots)
	}
	need := 1
	if r.start != s.start {
		need = 2
	}
	if n := len(s.slots); n+need > cap(s.slots) {
		// Grown by what is needed, not doubled: in a steady flow it holds the same few points.
		s.slots = append(make([]slot, 0, n+need), s.slots...)
	}
	s.slots = s.slots[:len(s.slots)+need]
	copy(s.slots[i+need:], s.slots[i:])
	if need == 1 {
		s.slots[i] = slot{ts: r.ts, v: r.v}
	} else {
		s.slots[i], s.slots[i+1] = slot{ts: r.ts | wideBit, v: r.v}, slot{ts: r.start}
	}
	s.count++
	return buffered
}

// widen gives every buffered point that shares the series' start a slot for it.
func (s *series) widen() {
	wide := make([]slot, 0, 2*int(s.count))
	for r := range s.points() {
		wide = append(wide, slot{ts: r.ts | wideBit, v: r.v}, slot{ts: r.start})
	}
	s.slots = wide
}

// takeSpan takes every buffered point of the series that lies before end (the span's end) into
// sums: increases of cumulative points, delta values as they are, the mean of gauge values.
// The first cumulative point ever only primes. It returns the number of points taken.
func (s *series) takeSpan(end, span int64, sums *podSpan) int {
	var total, gauge float64
	var gauges, taken, used int
	var covered int64
	contributed := false
	for used < len(s.slots) {
		r, next := s.at(used)
		if r.ts >= end {
			break
		}
		used = next
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
				inc = r.v // a counter reset: Prometheus' increase() rule
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
	if taken == 0 {
		return 0
	}
	s.slots = s.slots[:copy(s.slots, s.slots[used:])]
	s.count -= uint8(taken)
	if !contributed {
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
