package engine

import "time"

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
	jumpPod podID
	jumpTs  int64
	jumping bool

	catchUp bool   // points came for spans already swept: sweep again
	touched uint64 // the batch that last gave this source a usable point

	windows windows
}

func newSource(name string, cfg *Config) *source {
	return &source{name: name, windows: newWindows(cfg.Window, cfg.MaxAnomalies)}
}

// future decides whether a point at ts is too far ahead to be believed. Live, the wall clock is
// the reference; without one (replay), the source's own data time is, and a jump beyond it (a gap
// in the recording) is taken once two pods agree on it.
func (s *source) future(ts int64, id podID, now time.Time, skew, lateness int64, dataTimeOnly bool) bool {
	if !dataTimeOnly {
		return ts > now.UnixNano()+skew
	}
	if !s.seen || ts <= s.newest+skew {
		return false
	}
	if s.jumping && s.jumpPod != id {
		s.jumping = false
		s.see(min(s.jumpTs, ts), lateness) // the gap is real: time resumes at the earlier of the two
		return ts > s.newest+skew
	}
	if !s.jumping || ts < s.jumpTs {
		s.jumpPod, s.jumpTs, s.jumping = id, ts, true
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
