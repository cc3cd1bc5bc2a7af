package profile

import "time"

// Trail holds one pod's anomalous pod-spans of the last Within of data time. Anomalous
// time in a short window, not spans in the hour: on real traffic one-sample bursts (a few
// an hour) add up over an hour to parity's count, while an attack is sustained. The zero
// value is empty; not safe for concurrent use (the engine holds it under its lock).
type Trail struct {
	spans []trailSpan
}

type trailSpan struct {
	end    time.Time
	credit time.Duration
}

// Rule is when a Trail is an event.
type Rule struct {
	// MinAnomalous is what the window's anomalous spans' Credit must exceed, strictly (as
	// parity's count > 5). With MaxCredit <= MinAnomalous no single span, such as a real
	// 60 s burst of 30-100x inbound, makes an event.
	MinAnomalous time.Duration
	// Within is the trailing window, in data time, ending at the newest span's end.
	Within time.Duration
	// MaxCredit caps the time one span stands for (see Credit).
	MaxCredit time.Duration
}

// RecommendedRule returns the counting defaults: more than 70 s anomalous within five
// minutes, a span standing for at most a minute (8 spans at 10 s scrapes, 2 at 60 s, never
// one). Not 60 s: a one-minute burst out of step with 10 s scrapes touches 7 spans, which
// made most false events on the simulated mixed estate (25 against 7).
func RecommendedRule() Rule {
	return Rule{MinAnomalous: 70 * time.Second, Within: 5 * time.Minute, MaxCredit: time.Minute}
}

// Add records an anomalous span and reports whether the trail now meets r. Spans must come
// in data-time order, which the engine's span completion guarantees.
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
