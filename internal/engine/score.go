package engine

import (
	"math"
	"strings"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

// signalValues are one pod-span's signals; a signal whose ok is false is undefined and not scored.
type signalValues struct {
	v  [baseline.NumSignals]float64
	ok [baseline.NumSignals]bool
}

// computeSignals follows the search's evals: a ratio with a zero denominator is null.
func computeSignals(in, out float64) signalValues {
	var s signalValues
	if out > 0 {
		s.v[baseline.InboundOutbound], s.ok[baseline.InboundOutbound] = in/out, true
	}
	if in > 0 {
		s.v[baseline.OutboundInbound], s.ok[baseline.OutboundInbound] = out/in, true
	}
	s.v[baseline.InboundIO], s.ok[baseline.InboundIO] = in, true
	s.v[baseline.OutboundIO], s.ok[baseline.OutboundIO] = out, true
	return s
}

// verdict is the outcome of scoring one pod-span.
type verdict struct {
	text    string // the span's `anomalies` value; empty when nothing flagged
	z       [baseline.NumSignals]float64
	flagged [baseline.NumSignals]bool
}

// score is the search's `foreach stdev_*`: strictly above avg + k*stdev flags, in the order of
// the baseline file's columns; a missing key or signal never flags.
func score(stats *[baseline.NumSignals]baseline.Stat, order []baseline.Signal, sv signalValues, k float64) verdict {
	var out verdict
	var b strings.Builder
	for _, s := range order {
		st := stats[s]
		if !st.Scorable || !sv.ok[s] {
			continue
		}
		v := sv.v[s]
		if !(v > st.Avg+k*st.Stdev) {
			continue
		}
		z := (v - st.Avg) / st.Stdev
		out.z[s], out.flagged[s] = z, true
		if b.Len() == 0 {
			b.Grow(192) // one signal's text is ~150 bytes: one allocation instead of a growth series
		} else {
			b.WriteString(", ")
		}
		appendAnomalyText(&b, s, v, z, st)
	}
	out.text = b.String()
	return out
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
