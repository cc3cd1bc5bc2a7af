package engine

import (
	"math"
	"time"
)

// source is one node's data time. Each node has its own clock and its own delivery path, so
// each has its own watermark: a node whose clock is fast, a point from the far future, or a
// node that went quiet moves no time for the pods of other nodes.
type source struct {
	name string
	// pods in the order they were first seen: sweeps score them in that order, so the events'
	// peer context does not depend on map order and a replay gives the same events every time.
	pods []*pod

	newest    int64 // newest usable point time, Unix ns
	seen      bool
	watermark int64 // spans ending at or before it are complete
	swept     int64 // every span ending at or before it has been scored, every window closed

	// The wall-clock idle flush: when data last came, and the newest data time then.
	lastArrival   time.Time
	arrivalNewest int64

	// A candidate jump ahead of more than max_clock_skew (replay only): taken when a second pod
	// of the source confirms it, never on one pod's word.
	jumpPod *pod
	jumpTs  int64
	jumping bool

	catchUp bool   // points came for spans already swept: sweep again
	touched uint64 // the batch that last gave this source a usable point

	windows windows
}

func newSource(name string, cfg *Config) *source {
	return &source{name: name, windows: newWindows(cfg.Window, cfg.MaxAnomalies)}
}

// add puts a new pod at the end of the source's pods.
func (s *source) add(p *pod) {
	p.at = int32(len(s.pods))
	s.pods = append(s.pods, p)
}

// future decides whether a point at ts is too far ahead to be believed. Live, the wall clock is
// the reference; without one (replay), the source's own data time is, and a jump beyond it (a gap
// in the recording) is taken once two pods agree on it.
func (s *source) future(ts int64, p *pod, now time.Time, skew, lateness int64, dataTimeOnly bool) bool {
	if !dataTimeOnly {
		return ts > now.UnixNano()+skew
	}
	if !s.seen || ts <= s.newest+skew {
		return false
	}
	if s.jumping && s.jumpPod != p {
		s.jumping = false
		s.see(min(s.jumpTs, ts), lateness) // the gap is real: time resumes at the earlier of the two
		return ts > s.newest+skew
	}
	if !s.jumping || ts < s.jumpTs {
		s.jumpPod, s.jumpTs, s.jumping = p, ts, true
	}
	return true
}

// see moves the source's data time with a usable point.
func (s *source) see(ts int64, lateness int64) {
	if !s.seen || ts > s.newest {
		s.newest, s.seen = ts, true
	}
	if wm := s.newest - lateness; wm > s.watermark {
		s.watermark = wm
	}
}

// slowest is the minimum over the sources that have a data time of swept (every span before it
// is scored everywhere) and of closedThrough (every window before it is closed everywhere), as
// find last found them, with the number of sources at each minimum. A batch rescans the sources
// only when a minimum can have moved: with one batch per node, a scan per batch would make every
// scrape quadratic in the nodes.
type slowest struct {
	swept, closed minimum
	stale         bool // a minimum may have moved: find must rescan
}

// minimum is the least of one value over the sources, and how many sources are at it.
type minimum struct {
	at int64
	n  int
}

// left records that one source's value went from old to now.
func (m *minimum) left(old, now int64) bool {
	switch {
	case old == now || old > m.at:
		return false
	case old < m.at: // a source that was not counted (no data time yet) moved
		return true
	}
	m.n--
	return m.n <= 0 // the last source at the minimum moved on
}

// moved records a source's sweep: swept and closed before it, and after.
func (s *slowest) moved(swept, sweptNow, closed, closedNow int64) {
	if s.swept.left(swept, sweptNow) || s.closed.left(closed, closedNow) {
		s.stale = true
	}
}

// find rescans the sources when a minimum may have moved, and says whether any source has a data
// time (a node with none holds no span back).
func (s *slowest) find(sources map[string]*source) bool {
	if !s.stale && s.swept.n > 0 {
		return true
	}
	swept, closed := minimum{at: math.MaxInt64}, minimum{at: math.MaxInt64}
	for _, src := range sources {
		if src.seen {
			swept.add(src.swept)
			closed.add(src.windows.closedThrough)
		}
	}
	if swept.n == 0 {
		return false
	}
	s.swept, s.closed, s.stale = swept, closed, false
	return true
}

func (m *minimum) add(v int64) {
	switch {
	case v < m.at:
		m.at, m.n = v, 1
	case v == m.at:
		m.n++
	}
}
