package profile

import "time"

// Trail holds one pod's anomalous pod-spans of the last Within of data time and says
// when they amount to an event. The recommended profile counts anomalous time in a
// short trailing window rather than anomalous spans in the whole hour: on real traffic
// single-sample bursts (inbound 30-100x for one 60 s sample, a few times an hour) add
// up over an hour to parity's count, while an attack is sustained. Counting time, with
// a floor on the number of spans, makes one setting mean the same at 10 s and 60 s
// scrapes (see Rule).
//
// The zero value is empty; it is not safe for concurrent use (the engine holds it per
// pod under its lock).
type Trail struct {
	spans []trailSpan
}

type trailSpan struct {
	end    time.Time
	credit time.Duration
}

// Rule is when a Trail is an event.
type Rule struct {
	// MinAnomalous is the anomalous time that must be exceeded, strictly (as parity's
	// count > 5): the sum of Credit over the anomalous spans in the trailing window.
	// With MaxCredit <= MinAnomalous no single span can make an event, whatever the
	// scrape interval: on real traffic one 60 s sample with inbound 30-100x its usual
	// level recurs a few times an hour, and is a burst, not an attack.
	MinAnomalous time.Duration
	// Within is the trailing window, in data time, ending at the newest span's end.
	Within time.Duration
	// MaxCredit caps the time one span stands for (see Credit).
	MaxCredit time.Duration
}

// RecommendedRule returns the recommended profile's counting defaults: more than 70 s of
// anomalous traffic within five minutes, one span standing for at most a minute. That is 8
// anomalous spans at 10 s scrapes (an event about 80 s into an attack), 3 at 30 s, 2 at 60 s;
// never one. 70 s, not one minute: a one-minute burst seen through 10 s scrapes that do not
// line up with it touches 7 spans (the first and the last in part), which made most of the
// false events on the simulated mixed estate (25 against 7; README, "The recommended profile").
func RecommendedRule() Rule {
	return Rule{MinAnomalous: 70 * time.Second, Within: 5 * time.Minute, MaxCredit: time.Minute}
}

// Add records an anomalous span ending at end that covers covered of data, drops the
// spans that left the window, and reports whether the trail now meets r. Spans must
// arrive in data-time order per pod, which the engine's span completion guarantees.
func (t *Trail) Add(end time.Time, covered time.Duration, r Rule) bool {
	t.spans = append(t.spans, trailSpan{end, Credit(covered, r.MaxCredit)})
	cut := end.Add(-r.Within)
	i := 0
	for i < len(t.spans) && !t.spans[i].end.After(cut) {
		i++
	}
	t.spans = append(t.spans[:0], t.spans[i:]...)
	var sum time.Duration
	for _, s := range t.spans {
		sum += s.credit
	}
	return sum > r.MinAnomalous
}

// Len is the number of anomalous spans in the window as of the last Add.
func (t *Trail) Len() int { return len(t.spans) }

// Reset empties the trail (after an event, so the next one needs fresh evidence).
func (t *Trail) Reset() { t.spans = t.spans[:0] }

// TrailSpan is one anomalous span of a Trail, as saved across restarts.
type TrailSpan struct {
	End    time.Time
	Credit time.Duration
}

// Snapshot returns the trail's spans, oldest first.
func (t *Trail) Snapshot() []TrailSpan {
	out := make([]TrailSpan, len(t.spans))
	for i, s := range t.spans {
		out[i] = TrailSpan{End: s.end, Credit: s.credit}
	}
	return out
}

// Restore replaces the trail's spans with saved ones (oldest first, as Snapshot gives them).
func (t *Trail) Restore(spans []TrailSpan) {
	t.spans = t.spans[:0]
	for _, s := range spans {
		t.spans = append(t.spans, trailSpan{end: s.End, credit: s.Credit})
	}
}
