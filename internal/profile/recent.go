package profile

import (
	"math"
	"sort"
	"time"
)

// RecentMinutes is Recent's default look-back. On the real day, learning its quiet hours
// and detecting its 7 hours of unseen 5-13x inbound surges, 30 minutes cut false events
// from 58 to 9 (60: 16, 120: 18) and raised x10 download recall from 91 % to 95 %: surge
// events no longer used up the pods' one event per window.
const RecentMinutes = 30

// Recent is one pod's trailing level of one direction: the median per-minute rate over the
// last Minutes of data time. The gates use max(learned usual, this level), so an hours-long
// natural surge makes an event at its onset only, while a 10-minute attack does not move it.
// Per-minute slots make it independent of the scrape interval. Runtime state, not learned:
// empty after a restart, which only makes the gates stricter until MinMinutes have data.
type Recent struct {
	// Minutes is the look-back; MinMinutes the minutes with data needed for a level.
	Minutes, MinMinutes int
	slots               []recentSlot
}

type recentSlot struct {
	minute  int64 // Unix minute; a slot with covered 0 is empty
	bytes   float64
	covered float64 // seconds of data behind bytes
}

// NewRecent returns a Recent over the last minutes minutes that needs half of them.
func NewRecent(minutes int) *Recent {
	minutes = max(minutes, 1)
	return &Recent{Minutes: minutes, MinMinutes: (minutes + 1) / 2, slots: make([]recentSlot, minutes)}
}

func unixMinute(t time.Time) int64 { return int64(math.Floor(float64(t.Unix()) / 60)) }

// Add records a span's bytes of this direction. Spans must come in data-time order
// (older minutes are ignored).
func (r *Recent) Add(end time.Time, bytes float64, covered time.Duration) {
	if !(bytes >= 0) || math.IsInf(bytes, 0) || covered <= 0 {
		return
	}
	m := unixMinute(end.Add(-time.Nanosecond)) // a span ending on the minute belongs to it
	s := &r.slots[int(((m%int64(len(r.slots)))+int64(len(r.slots)))%int64(len(r.slots)))]
	switch {
	case s.minute == m:
	case s.minute > m && s.covered > 0:
		return
	default:
		*s = recentSlot{minute: m}
	}
	s.bytes += bytes
	s.covered += covered.Seconds()
}

// Level returns the median per-minute rate, bytes/s, over the minutes in
// (now - Minutes, now], and whether at least MinMinutes of them had data.
func (r *Recent) Level(now time.Time) (float64, bool) {
	m := unixMinute(now.Add(-time.Nanosecond))
	var buf [64]float64 // RecentMinutes fits: no allocation per scored span
	rates := buf[:0]
	for _, s := range r.slots {
		if s.covered > 0 && s.minute <= m && s.minute > m-int64(r.Minutes) {
			rates = append(rates, s.bytes/s.covered)
		}
	}
	if len(rates) == 0 || len(rates) < r.MinMinutes {
		return 0, false
	}
	sort.Float64s(rates)
	if n := len(rates); n%2 == 0 {
		return (rates[n/2-1] + rates[n/2]) / 2, true
	}
	return rates[len(rates)/2], true
}

// WithRecent raises each usual rate to the pod's recent level for the gates; an
// unavailable level (0, NaN) is ignored and the ratio and high levels stay learned.
func (u Usual) WithRecent(in, out float64) Usual {
	if in > u.In && !math.IsInf(in, 0) {
		u.In = in
	}
	if out > u.Out && !math.IsInf(out, 0) {
		u.Out = out
	}
	return u
}

// RecentSlot is one minute of a Recent, as saved across restarts.
type RecentSlot struct {
	Minute         int64 // Unix minute
	Bytes, Covered float64
}

// Snapshot returns the minutes that hold data.
func (r *Recent) Snapshot() []RecentSlot {
	var out []RecentSlot
	for _, s := range r.slots {
		if s.covered > 0 {
			out = append(out, RecentSlot{Minute: s.minute, Bytes: s.bytes, Covered: s.covered})
		}
	}
	return out
}

// Restore puts saved minutes back; false, taking nothing, if a value is not a byte count or a time.
func (r *Recent) Restore(slots []RecentSlot) bool {
	for _, s := range slots {
		if !(s.Bytes >= 0) || math.IsInf(s.Bytes, 0) || !(s.Covered > 0) || math.IsInf(s.Covered, 0) {
			return false
		}
	}
	n := int64(len(r.slots))
	for _, s := range slots {
		r.slots[((s.Minute%n)+n)%n] = recentSlot{minute: s.Minute, bytes: s.Bytes, covered: s.Covered}
	}
	return true
}
