package engine

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// recommended is the recommended profile's scoring, built once from the config.
type recommended struct {
	params profile.Params
	rule   profile.Rule
}

func newRecommended(c RecommendedConfig) recommended {
	p, r := profile.Recommended(), profile.RecommendedRule()
	p.Gate, p.HighGate, p.K = c.Gate, c.HighGate, c.Sigmas
	r.MinAnomalous, r.Within = c.MinAnomalous, c.AnomalousWithin
	return recommended{params: p, rule: r}
}

// score scores one pod-span as rates against the key's usual figures. ok is false when the
// baseline has no profile columns for the key or the span covers no time: nothing to score.
func (r *recommended) score(b *baseline.Baseline, row int, p *pod, end int64, sp podSpan) (v verdict, ok bool) {
	u, ok := b.RowUsual(row)
	if !ok || sp.covered <= 0 {
		return verdict{}, false
	}
	secs := float64(sp.covered) / float64(time.Second)
	in, out := sp.in/secs, sp.out/secs
	// The gates use the pod's recent level when it is above the learned one: an hours-long
	// natural surge makes at most an event at its onset, then is the level it is judged by.
	pp := p.profile()
	t := time.Unix(0, end)
	li, okIn := pp.recentIn.Level(t)
	lo, okOut := pp.recentOut.Level(t)
	if !okIn {
		li = 0
	}
	if !okOut {
		lo = 0
	}
	pp.recentIn.Add(t, sp.in, time.Duration(sp.covered))
	pp.recentOut.Add(t, sp.out, time.Duration(sp.covered))
	pv := profile.Score(in, out, u.WithRecent(li, lo), r.params)
	var text strings.Builder
	for _, d := range []profile.Direction{profile.Exfiltration, profile.Download} {
		c := pv.Check(d)
		if !c.Anomalous {
			continue
		}
		s, rate, usual := baseline.OutboundInbound, out, u.Out
		ratio, usualRatio := out/in, math.Exp(u.LogRatio)
		if d == profile.Download {
			s, rate, usual = baseline.InboundOutbound, in, u.In
			ratio, usualRatio = in/out, math.Exp(-u.LogRatio)
		}
		v.z[s], v.flagged[s] = c.Z, true
		if text.Len() > 0 {
			text.WriteString(", ")
		}
		appendRecommendedText(&text, d, s, ratio, usualRatio, c, rate, usual)
	}
	v.text = text.String()
	return v, true
}

// appendRecommendedText says what rose and by how much, with the rates a responder compares:
// "exfiltration: outbound:inbound=12 is 8.1x its usual 1.48 (needed 3x); outbound 4100 B/s,
// usual 410 B/s, gate 1230 B/s".
func appendRecommendedText(b *strings.Builder, d profile.Direction, s baseline.Signal, ratio, usualRatio float64, c profile.Check, rate, usual float64) {
	b.WriteString(d.String())
	b.WriteString(": ")
	b.WriteString(s.String())
	b.WriteByte('=')
	b.WriteString(sig(ratio))
	b.WriteString(" is ")
	b.WriteString(sig(math.Exp(c.Rise)))
	b.WriteString("x its usual ")
	b.WriteString(sig(usualRatio))
	b.WriteString(" (needed ")
	b.WriteString(sig(math.Exp(c.Shift)))
	b.WriteString("x); ")
	if d == profile.Download {
		b.WriteString("inbound ")
	} else {
		b.WriteString("outbound ")
	}
	b.WriteString(sig(rate))
	b.WriteString(" B/s, usual ")
	b.WriteString(sig(usual))
	b.WriteString(" B/s, gate ")
	b.WriteString(sig(c.GateRate))
	b.WriteString(" B/s")
}

// sig prints three significant digits: the figures are for a reader, not for a lookup.
func sig(v float64) string {
	if math.Abs(v) >= 100 {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
