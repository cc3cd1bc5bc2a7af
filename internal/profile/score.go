package profile

import (
	"math"
	"time"
)

// madToSigma turns a median absolute deviation into the standard deviation it equals for
// normally distributed data, so K reads like the parity rule's "standard deviations".
const madToSigma = 1.4826

// Params are the recommended profile's scoring parameters; Recommended returns the
// defaults the measurements chose.
type Params struct {
	// Gate: a ratio counts only while its numerator direction is at least Gate x that
	// direction's usual (median) rate. Exfiltration raises outbound and a download raises
	// inbound; a ratio that rose because its denominator fell (an idle span, a quieter
	// day) is not either, and was almost every false event parity raised on real traffic.
	Gate float64
	// HighGate, when > 0, also requires the numerator to be at least HighGate x the
	// direction's high level (Usual.InHigh/OutHigh): a pod whose inbound regularly
	// surges 5-13x does not alert when it does so again. 0 disables the rule.
	HighGate float64
	// K is the threshold on the robust z-score of ln(ratio): (ln r - median) / (1.4826 MAD).
	K float64
	// MinSigma floors the robust sigma (natural-log units): a pod whose ratio barely
	// moved while learning would otherwise flag a 10 % wobble.
	MinSigma float64
	// MinShift and MaxShift clamp the ln-ratio rise required (K x sigma), in
	// natural-log units. The floor, ln 3 by default, keeps a load change that raises
	// both directions (the ratio wobbles by its usual few tens of percent) from passing
	// on a pod whose ratio is so steady that K sigma is a 1.5x wobble. The cap, ln 4 by
	// default, keeps a x10 change of one direction (ln 10 = 2.3) countable on a pod so
	// noisy that K sigma would exceed it. 0 disables either bound.
	MinShift, MaxShift float64
	// MinRate floors a usual rate, bytes/s, so that a direction idle more than half of
	// the time (usual rate 0) does not pass the gate with a few bytes.
	MinRate float64
}

// Recommended returns the recommended profile's scoring defaults. Measured on the real
// day (issue 8 back-test, learn 6 h / detect the rest and the reverse): HighGate 1.5
// left 4x more false events, 3 cost 3 points of download recall; Gate, K (2-4) and
// MinShift (ln 2 - ln 3) barely moved either figure there, and are set for what that day
// lacks: a pod with a steady high level (Gate), and load changes of both directions
// (MinShift ln 3 halves the events a x5 load burst makes, against ln 1).
func Recommended() Params {
	return Params{Gate: 3, HighGate: 2, K: 3, MinSigma: 0.1, MinShift: math.Log(3), MaxShift: math.Log(4), MinRate: 1}
}

// Direction names a ratio by what its rise would mean.
type Direction int

const (
	// Exfiltration is outbound:inbound rising with outbound above its usual rate.
	Exfiltration Direction = iota
	// Download is inbound:outbound rising with inbound above its usual rate.
	Download
)

func (d Direction) String() string {
	if d == Download {
		return "download"
	}
	return "exfiltration"
}

// Check is one direction's verdict for a pod-span, with the figures an event or a
// report shows next to it.
type Check struct {
	Defined bool    // both rates > 0: the ratio exists
	Z       float64 // robust z of ln(ratio) in this direction (positive = ratio up)
	Rise    float64 // ln(ratio) minus its learned median, in this direction
	Shift   float64 // the rise needed: K x sigma clamped to [MinShift, MaxShift]
	// GateRate is the numerator rate the gates need, bytes/s:
	// max(Gate x max(usual, MinRate), HighGate x high).
	GateRate  float64
	RatioHigh bool // Rise > Shift
	Gated     bool // the numerator rate >= GateRate
	Anomalous bool // RatioHigh && Gated
}

// Verdict is a pod-span's result in both directions.
type Verdict struct {
	Exfiltration, Download Check
}

// Anomalous reports whether either direction is anomalous.
func (v Verdict) Anomalous() bool { return v.Exfiltration.Anomalous || v.Download.Anomalous }

// Check returns direction d's check.
func (v Verdict) Check(d Direction) Check {
	if d == Download {
		return v.Download
	}
	return v.Exfiltration
}

// Score scores one pod-span, given as rates in bytes/s, against the key's usual
// figures.
func Score(in, out float64, u Usual, p Params) Verdict {
	if !(in > 0 && out > 0) || math.IsInf(in, 0) || math.IsInf(out, 0) || !u.Valid() {
		return Verdict{}
	}
	sigma := max(madToSigma*u.LogRatioMAD, p.MinSigma)
	shift := max(p.K*sigma, p.MinShift)
	if p.MaxShift > 0 {
		shift = min(shift, p.MaxShift)
	}
	d := math.Log(out/in) - u.LogRatio
	check := func(dev, rate, usual, high float64) Check {
		gate := p.Gate * max(usual, p.MinRate)
		if p.HighGate > 0 && high > 0 && !math.IsInf(high, 0) { // NaN: not learned, skip
			gate = max(gate, p.HighGate*high)
		}
		c := Check{Defined: true, Z: dev / sigma, Rise: dev, Shift: shift, GateRate: gate}
		c.RatioHigh = dev > shift
		c.Gated = rate >= gate
		c.Anomalous = c.RatioHigh && c.Gated
		return c
	}
	return Verdict{
		Exfiltration: check(d, out, u.Out, u.OutHigh),
		Download:     check(-d, in, u.In, u.InHigh),
	}
}

// Credit is the time a scored pod-span stands for: the interval its increases cover
// (the later point's timestamp minus the earlier one's), capped at maxCredit. Counting
// anomalous time instead of anomalous spans makes one threshold mean the same at every
// scrape interval: at 10 s scrapes a span with data stands for 10 s, at 60 s scrapes
// only every sixth span has data and it stands for 60 s. The cap keeps one span after a
// long gap in the data (a missed scrape, a restarted collector) from counting as minutes.
func Credit(covered, maxCredit time.Duration) time.Duration {
	return max(0, min(covered, maxCredit))
}

// ServiceShift reports whether a service's pods moved together: at least minPeers pods
// of the service scored in the window and more than fraction of them are anomalous (a
// pod counts itself). That is a deploy or a load change, not a compromised pod, so the
// recommended profile emits one service-level record for it instead of an event per
// pod. With fewer than minPeers pods there is no majority to tell the two apart, and a
// single-replica service is never suppressed.
func ServiceShift(anomalous, total, minPeers int, fraction float64) bool {
	return total >= minPeers && total > 0 && float64(anomalous) > fraction*float64(total)
}
