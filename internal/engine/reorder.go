package engine

import (
	"iter"
	"math"
	"unsafe"
)

// A series' reorder buffer holds the points that wait for lateness, the largest part of the
// engine's memory (five points a series at a 10 s scrape with the default 30 s lateness). Its
// points are words. A counter's point takes one word when it shares its anchor's start time and
// lies near the series' anchor: at most 137 s later, its value an integer within 2^25 of the
// anchor's, as a kubelet counter's points are. Any other point takes two words (time, value),
// or three with a start time of its own (a counter reset arriving out of order, or a delta).
//
// A one-word point holds its time and value less the anchor's, so it decodes without the points
// before it; when takeSpan moves the anchor, the points left are written again.

// The words of a point.
const (
	longBit    = uint64(1) << 63 // the first of two or three words: the time, then the value's bits
	ownStart   = uint64(1) << 62 // ... then a third word, the point's own start time
	shortDv    = 26              // the bits of a one-word point's value difference (signed)
	shortDtMax = 1<<(63-shortDv) - 1
	shortDvMin = -(1 << (shortDv - 1))
	shortDvMax = 1<<(shortDv-1) - 1
)

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

// A series counts its buffer's words in a uint8: this fails to compile if they might not fit.
const _ = uint8(3 * maxBuffered)

// inlineWords is the words a series holds in itself. A counter's points at a 10 s scrape with
// the default 30 s lateness (at most five wait, one word each) never leave it.
const inlineWords = 5

// words are the buffered points' words: in the series, or spilled into memory of their own.
func (s *series) words() []uint64 {
	if s.spill != nil {
		return unsafe.Slice(s.spill, s.spillCap)[:s.nWords]
	}
	return s.buf[:s.nWords]
}

// keep makes w the series' words: a slice of the series' own buf, or else spilled memory, kept
// by its first word's address (a slice header there would be an allocation of its own). No
// buffer reaches 256 words (maxBuffered points of at most three).
func (s *series) keep(w []uint64) {
	s.nWords = uint8(len(w))
	if len(w) == 0 || unsafe.SliceData(w) == &s.buf[0] {
		s.spill = nil
		return
	}
	s.spill, s.spillCap = unsafe.SliceData(w), uint8(min(cap(w), math.MaxUint8))
}

// keepTaken keeps the words left after points were taken. Spilled words move back into the
// series once few are left, not as soon as they fit: a flow that passes inlineWords at every
// scrape would spill again at every scrape.
func (s *series) keepTaken(w []uint64) {
	if s.spill != nil && len(w) <= inlineWords/2 {
		w = s.buf[:copy(s.buf[:], w)]
	}
	s.keep(w)
}

// at returns the point that starts at word i of words, a one-word point read against anchor,
// and the word of the next point.
func at(words []uint64, i int, anchor reading) (reading, int) {
	if w := words[i]; w&longBit == 0 {
		return reading{ts: anchor.ts + int64(w>>shortDv), start: anchor.start, v: anchor.v + float64(shortDiff(w))}, i + 1
	}
	return readLong(words, i, anchor.start)
}

// readLong reads the point of two or three words at word i of words; start is the start time of
// a point without its own.
func readLong(words []uint64, i int, start int64) (reading, int) {
	r := reading{ts: int64(words[i] &^ (longBit | ownStart)), start: start, v: math.Float64frombits(words[i+1])}
	if words[i]&ownStart != 0 {
		r.start = int64(words[i+2])
		return r, i + 3
	}
	return r, i + 2
}

// appendPoint appends the words of r to w: one word against the series' anchor when it fits
// exactly (the value read back is r's, bit for bit).
func (s *series) appendPoint(w []uint64, r reading) []uint64 {
	if word, ok := s.short(r); ok {
		return append(w, word)
	}
	if r.start != s.anchor.start {
		return append(w, longBit|ownStart|uint64(r.ts), math.Float64bits(r.v), uint64(r.start))
	}
	return append(w, longBit|uint64(r.ts), math.Float64bits(r.v))
}

// short is r as one word, if it is one: the series is primed, r shares its start time, and its
// time and value less the anchor's fit and read back exactly. A difference out of int64's range
// converts to some integer that fails the checks.
func (s *series) short(r reading) (uint64, bool) {
	dt, d := r.ts-s.anchor.ts, r.v-s.anchor.v
	dv := int64(d)
	ok := s.primed && r.start == s.anchor.start && uint64(dt-1) < shortDtMax && uint64(dv-shortDvMin) < 1<<shortDv &&
		float64(dv) == d && math.Float64bits(s.anchor.v+d) == math.Float64bits(r.v)
	return uint64(dt)<<shortDv | uint64(dv)&(1<<shortDv-1), ok
}

// points are the buffered points in time order.
func (s *series) points() iter.Seq[reading] {
	return func(yield func(reading) bool) {
		w := s.words()
		for i := 0; i < len(w); {
			r, next := at(w, i, s.anchor)
			if !yield(r) {
				return
			}
			i = next
		}
	}
}

// firstTime is the time of the oldest buffered point; the buffer must not be empty.
func (s *series) firstTime() int64 {
	w := s.words()[0]
	if w&longBit == 0 {
		return s.anchor.ts + int64(w>>shortDv)
	}
	return int64(w &^ (longBit | ownStart))
}

// offer puts a point into the series' reorder buffer at its place in time. latest says the point
// is later than every point the series holds, as a point in order is: it goes at the end without
// a look at the others.
func (s *series) offer(r reading, latest bool) bufferResult {
	if s.primed && r.ts <= s.anchor.ts {
		return tooOld
	}
	w := s.words()
	i := 0 // the word the point goes in: before the first point at or after it
	if n := len(w); latest {
		i = n
	} else if n > 0 && int(s.count) == n {
		// Every point is one word (so the series is primed): the last word is the newest point,
		// and a point after it, as the second direction's point of a scrape is, needs no scan.
		if r.ts > s.anchor.ts+int64(w[n-1]>>shortDv) {
			i = n
		}
	}
	for i < len(w) {
		p, next := at(w, i, s.anchor)
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
	case s.primed: // the anchor's start is the one its next increase is checked against
	case s.count == 0:
		s.anchor.start = r.start
	case r.start != s.anchor.start && i == len(w) && s.kind == cumulativePoint:
		// A counter restarted before it was primed: the points to come share the newest point's
		// start, and the points before it keep theirs in words of their own. (A delta's start
		// is its own, shared with no other point.)
		s.rewrite(r.start)
		w = s.words()
		i = len(w)
	}
	var enc [3]uint64
	word, short := s.short(r)
	need := 1
	if short {
		enc[0] = word
	} else {
		need = len(s.appendPoint(enc[:0], r))
	}
	if n := len(w); n+need > cap(w) {
		// Grown by what is needed, not doubled: in a steady flow it holds the same few points.
		w = append(make([]uint64, 0, n+need), w...)
	}
	s.count++
	if i == len(w) && short { // the steady case: one word at the end
		s.keep(append(w, word))
		return buffered
	}
	w = w[:len(w)+need]
	copy(w[i+need:], w[i:])
	copy(w[i:], enc[:need])
	s.keep(w)
	return buffered
}

// rewrite writes the buffered points of a series that is not primed again, in new memory, with
// start as the start they share.
func (s *series) rewrite(start int64) {
	old, was := s.words(), s.anchor // the words, read with the old start
	w := make([]uint64, 0, len(old)+2*int(s.count))
	s.anchor.start = start
	for i := 0; i < len(old); {
		r, next := at(old, i, was)
		w = s.appendPoint(w, r)
		i = next
	}
	if len(w) <= inlineWords {
		w = s.buf[:copy(s.buf[:], w)]
	}
	s.keep(w)
}

// takeSpan takes every buffered point of the series that lies before end (the span's end) into
// sums: increases of cumulative points, delta values as they are, the mean of gauge values.
// The first cumulative point ever only primes. It returns the number of points taken.
func (s *series) takeSpan(end, span int64, sums *podSpan) int {
	var total, gauge float64
	var gauges, taken, used, last int // last: the word of the last point taken
	var covered int64
	contributed := false
	was := s.anchor // what the one-word points are read against
	words := s.words()
	for used < len(words) {
		var r reading
		next := used + 1
		if w := words[used]; w&longBit == 0 { // at, inlined: it runs for every point
			r = reading{ts: was.ts + int64(w>>shortDv), start: was.start, v: was.v + float64(shortDiff(w))}
		} else {
			r, next = readLong(words, used, was.start)
		}
		if r.ts >= end {
			break
		}
		last, used = used, next
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
	s.count -= uint8(taken)
	s.dropTaken(words, used, last, was)
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

// dropTaken removes the first used of the series' words w, whose points were taken (the last at
// word last), and writes the points left against the anchor they leave (was is the one they were
// written against).
func (s *series) dropTaken(w []uint64, used, last int, was reading) {
	if s.anchor == was { // nothing moved (not a counter): the words stay as they are
		s.keepTaken(w[:copy(w, w[used:])])
		return
	}
	step := w[last]
	if step&longBit != 0 {
		s.rewriteRest(w, 0, used, was)
		return
	}
	// The steady case, in integers: the new anchor is a one-word point, and every point left that
	// is one word stays one word, moved down and shifted by the anchor's step.
	dt, dv := int64(step>>shortDv), shortDiff(step)
	// From an integer anchor below 2^51, every value within 2^25 of it (this anchor's, the
	// points') is an integer below 2^52 and every sum is exact: then no value needs a look;
	// otherwise each must read back bit for bit.
	exact := math.Abs(was.v) < 1<<51 && was.v == float64(int64(was.v))
	n := len(w) - used
	for i := range n {
		p := w[used+i]
		ndv := shortDiff(p) - dv
		if p&longBit != 0 || ndv < shortDvMin || ndv > shortDvMax ||
			!exact && math.Float64bits(s.anchor.v+float64(ndv)) != math.Float64bits(was.v+float64(shortDiff(p))) {
			s.rewriteRest(w, i, used+i, was)
			return
		}
		w[i] = uint64(int64(p>>shortDv)-dt)<<shortDv | uint64(ndv)&(1<<shortDv-1)
	}
	s.keepTaken(w[:n])
}

// rewriteRest writes the points of w from word from, read against was, again against the anchor,
// after the k words before them that are written against it already (k < from).
func (s *series) rewriteRest(w []uint64, k, from int, was reading) {
	// A point is written in no more words than before (it is nearer the new anchor) unless its
	// value moved away from it (a reset, or values out of order).
	grows, n := false, k
	var enc [3]uint64
	for i := from; i < len(w); {
		r, next := at(w, i, was)
		size := len(s.appendPoint(enc[:0], r))
		grows = grows || size > next-i
		n += size
		i = next
	}
	src, dst := w, w[:k] // in place: unless it grows, the write never passes the read
	switch {
	case n <= inlineWords: // into the series (the unprimed points took two words each)
		if unsafe.SliceData(w) == &s.buf[0] {
			var copied [inlineWords]uint64
			src = copied[:copy(copied[:], w)]
		}
		dst = append(s.buf[:0], src[:k]...)
	case grows || cap(w) >= 2*n+2: // new memory, or the memory given back
		dst = append(make([]uint64, 0, n+1), w[:k]...)
	}
	for i := from; i < len(src); {
		r, next := at(src, i, was)
		dst = s.appendPoint(dst, r)
		i = next
	}
	s.keep(dst)
}

// shortDiff is a one-word point's value less its anchor's.
func shortDiff(w uint64) int64 { return int64(w<<(64-shortDv)) >> (64 - shortDv) }
