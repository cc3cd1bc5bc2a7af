package engine

import "testing"

// slowest asks for a rescan only when a minimum can have moved: once the last source at it moves
// on, or when a source not counted so far appears below it.
func TestSlowestRescansWhenTheMinimumCanMove(t *testing.T) {
	sources := map[string]*source{}
	for _, n := range []string{"a", "b", "c"} {
		sources[n] = &source{name: n, seen: true, swept: 100}
		sources[n].windows.closedThrough = 60
	}
	var s slowest
	if !s.find(sources) || s.swept != (minimum{100, 3}) || s.closed != (minimum{60, 3}) {
		t.Fatalf("first find: %+v", s)
	}
	move := func(name string, swept int64) {
		src := sources[name]
		old := src.swept
		src.swept = swept
		s.moved(old, swept, src.windows.closedThrough, src.windows.closedThrough)
	}
	move("a", 110)
	move("b", 110)
	if s.stale {
		t.Fatal("stale while c is still at the minimum")
	}
	move("a", 120) // a source above the minimum moves: nothing to do
	if s.stale {
		t.Fatal("stale after a source above the minimum moved")
	}
	move("c", 110)
	if !s.stale {
		t.Fatal("the last source at the minimum moved on and no rescan was asked for")
	}
	if !s.find(sources) || s.swept != (minimum{110, 2}) {
		t.Fatalf("after the round: %+v", s.swept)
	}
	// A node that had no data time (not counted) gets one below the minimum.
	sources["d"] = &source{name: "d", seen: true, swept: 0}
	move("d", 50)
	if !s.stale {
		t.Fatal("a source below the minimum moved and no rescan was asked for")
	}
	if !s.find(sources) || s.swept != (minimum{50, 1}) {
		t.Fatalf("with d: %+v", s.swept)
	}
	for _, src := range sources {
		src.seen = false
	}
	s.stale = true
	if s.find(sources) {
		t.Fatal("find reports a minimum with no source that has a data time")
	}
}
