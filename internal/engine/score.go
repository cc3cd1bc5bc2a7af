package engine

import (
	"math"
	"strings"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

// signalOf is one signal of a pod-span as the search's evals compute it: a ratio with a zero
// denominator is null (ok false). One at a time, so that scoring divides only for the signals the
// baseline has.
func signalOf(s baseline.Signal, in, out float64) (v float64, ok bool) {
	switch s {
	case baseline.InboundOutbound:
		if out > 0 {
			return in / out, true
		}
	case baseline.OutboundInbound:
		if in > 0 {
			return out / in, true
		}
	case baseline.InboundIO:
		return in, true
	case baseline.OutboundIO:
		return out, true
	}
	return 0, false
}

// verdict is the outcome of scoring one pod-span.
type verdict struct {
	text    string // the span's `anomalies` value; empty when nothing flagged
	z       [baseline.NumSignals]float64
	flagged [baseline.NumSignals]bool
}

// score is the search's `foreach stdev_*` on a pod-span's inbound and outbound: strictly above
// avg + k*stdev flags, in the order of the baseline file's columns; a missing key or signal
// never flags.
func score(stats *[baseline.NumSignals]baseline.Stat, order []baseline.Signal, in, out, k float64) verdict {
	if !flags(stats, order, in, out, k) {
		return verdict{} // nearly every span: no verdict to build
	}
	var vd verdict
	var b strings.Builder
	for _, s := range order {
		st := stats[s]
		v, ok := exceeds(&st, s, in, out, k)
		if !ok {
			continue
		}
		z := (v - st.Avg) / st.Stdev
		vd.z[s], vd.flagged[s] = z, true
		if b.Len() == 0 {
			b.Grow(192) // one signal's text is ~150 bytes: one allocation instead of a growth series
		} else {
			b.WriteString(", ")
		}
		appendAnomalyText(&b, s, v, z, st)
	}
	vd.text = b.String()
	return vd
}

// flags says whether any signal flags: score's test alone, without the verdict.
func flags(stats *[baseline.NumSignals]baseline.Stat, order []baseline.Signal, in, out, k float64) bool {
	for _, s := range order {
		if _, ok := exceeds(&stats[s], s, in, out, k); ok {
			return true
		}
	}
	return false
}

// exceeds returns signal s's value and whether it flags against st: defined, scorable and
// strictly above avg + k*stdev (NaN-safe: a comparison with NaN is false).
func exceeds(st *baseline.Stat, s baseline.Signal, in, out, k float64) (float64, bool) {
	if !st.Scorable {
		return 0, false
	}
	v, ok := signalOf(s, in, out)
	return v, ok && v > st.Avg+k*st.Stdev
}

// appendAnomalyText writes the search's text for one signal (the volume signals lack "ratio").
func appendAnomalyText(b *strings.Builder, s baseline.Signal, v, z float64, st baseline.Stat) {
	name := s.String()
	b.WriteString(name)
	if s.IsRatio() {
		b.WriteString(" ratio")
	}
	b.WriteString(" higher than average by ")
	b.WriteString(baseline.FormatNumber(roundHalfAway(z, 2)))
	b.WriteString(" Standard Deviations. ")
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(baseline.FormatNumber(v))
	b.WriteString(" avg_")
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(baseline.FormatNumber(st.Avg))
	b.WriteString(" 'stdev_")
	b.WriteString(name)
	b.WriteString("'=")
	b.WriteString(baseline.FormatNumber(st.Stdev))
}

// roundHalfAway is Splunk's round(x, d): halves go away from zero.
func roundHalfAway(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	r := math.Round(x*p) / p
	if r == 0 {
		return 0 // no "-0"
	}
	return r
}
