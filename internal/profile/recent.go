package profile

import (
	"math"
	"sort"
	"time"
)

// RecentMinutes is how far back Recent looks by default. A level held for more than half
// of it (15 minutes) becomes the pod's usual level for the gates; an attack shorter than
// that does not move it. Measured on the real day, learning on its quiet hours and
// detecting on its 7 hours of inbound surges (5-13x) that the learning never saw,
// 30 minutes cut false events from 58 to 9 (60 minutes: 16, 120: 18) and raised x10
// download recall from 91 % to 95 %, because surge events no longer used up the pods'
// once-per-window event.
const RecentMinutes = 30

// Recent is one pod's trailing level of one direction: the median of its per-minute
// rates over the last Minutes minutes of data time. It answers the surge question of
// issue 8: by ratio and volume alone an hours-long natural surge of inbound looks like
// a download, and what tells them apart is how long it lasts. The gates compare a
// numerator with max(learned usual, recent level), so a surge raises at most an event
// at its onset, as it should (nothing in the pod's history predicted it), and then
// becomes the level the pod is judged against until it ends. An attacker who ramps up
// slowly over more than Minutes/2 is not caught by this profile; a 10-minute x10
// exfiltration or download is.
//
// Per-minute slots make the memory and the meaning independent of the scrape interval:
// Minutes float64 pairs per pod and direction, whether spans are 10 s or 60 s apart.
// Recent is runtime state of a live pod (it lives on one node), not learned: it is not
// merged, and after a restart it is empty, which only makes the gates stricter
// (learned usual alone) until it has MinMinutes of data again.
type Recent struct {
	// Minutes is the look-back; MinMinutes the minutes with data needed for a level.
	Minutes, MinMinutes int
	slots               []recentSlot
}

type recentSlot struct {
	minute  int64 // Unix minute; 0 with secs 0 means empty
	bytes   float64
	covered float64 // seconds of data behind bytes
}

// NewRecent returns a Recent over the last minutes minutes that needs half of them.
func NewRecent(minutes int) *Recent {
	minutes = max(minutes, 1)
	return &Recent{Minutes: minutes, MinMinutes: (minutes + 1) / 2, slots: make([]recentSlot, minutes)}
}

func unixMinute(t time.Time) int64 { return int64(math.Floor(float64(t.Unix()) / 60)) }

// Add records a span's bytes of this direction, the span ending at end and covering
// covered of data. Spans must come in data-time order (older minutes are ignored).
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

// WithRecent returns u with each usual rate raised to the pod's recent level of that
// direction, for the gates; a level that is not available (ok false, NaN) is ignored.
// The ratio's median and the high levels stay the learned ones.
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

// Restore puts saved minutes back; it reports false, taking nothing, for a value that is not a
// byte count or a time.
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
