package profile

import (
	"math"
	"time"
)

// madToSigma scales a MAD to a normal standard deviation, so K reads like parity's sigmas.
const madToSigma = 1.4826

// Params are the recommended profile's scoring parameters (defaults: Recommended).
type Params struct {
	// Gate: the numerator direction must be at least Gate x its usual (median) rate. A
	// ratio that rose because its denominator fell is neither exfiltration nor download,
	// and was almost every false event parity raised on real traffic.
	Gate float64
	// HighGate (0: off): the numerator must also reach HighGate x its high level, so a pod
	// whose inbound regularly surges 5-13x does not alert when it does so again.
	HighGate float64
	// K is the threshold on the robust z-score of ln(ratio): (ln r - median) / (1.4826 MAD).
	K float64
	// MinSigma floors the robust sigma (ln units), or a ratio steady while learning
	// would flag a 10 % wobble.
	MinSigma float64
	// MinShift and MaxShift clamp the rise required, K x sigma (ln units; 0: no bound).
	// The floor keeps a load change of both directions quiet on a pod whose ratio is so
	// steady that K sigma is a 1.5x wobble; the cap keeps a x10 change (ln 10 = 2.3)
	// countable on a pod so noisy that K sigma would exceed it.
	MinShift, MaxShift float64
	// MinRate floors a usual rate, bytes/s, so a direction idle half the time (usual 0)
	// does not pass the gate with a few bytes.
	MinRate float64
}

// Recommended returns the scoring defaults. On the real day (learn 6 h, detect the rest,
// and the reverse) HighGate 1.5 left 4x more false events and 3 cost 3 points of download
// recall; Gate, K (2-4) and MinShift (ln 2 - ln 3) barely moved either figure and are set
// for what that day lacks: steady high levels (Gate) and load changes of both directions
// (MinShift ln 3 halves a x5 load burst's events, against ln 1).
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

// Check is one direction's verdict for a pod-span, with the figures an event shows.
type Check struct {
	Defined   bool    // both rates > 0: the ratio exists
	Z         float64 // robust z of ln(ratio) in this direction (positive = ratio up)
	Rise      float64 // ln(ratio) minus its learned median, in this direction
	Shift     float64 // the rise needed: K x sigma clamped to [MinShift, MaxShift]
	GateRate  float64 // bytes/s: max(Gate x max(usual, MinRate), HighGate x high)
	RatioHigh bool    // Rise > Shift
	Gated     bool    // the numerator rate >= GateRate
	Anomalous bool    // RatioHigh && Gated
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

// Score scores one pod-span's rates, bytes/s, against the key's usual figures.
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

// Credit is the time a scored pod-span stands for: the interval its increases cover,
// capped at maxCredit. Counting time, not spans, makes one threshold mean the same at
// every scrape interval; the cap keeps a span after a gap (a missed scrape, a restart)
// from counting as minutes.
func Credit(covered, maxCredit time.Duration) time.Duration {
	return max(0, min(covered, maxCredit))
}

// ServiceShift reports whether a service's pods moved together, a deploy or a load change
// rather than a compromise: at least minPeers scored in the window, more than fraction of
// them (a pod counts itself) anomalous. Below minPeers no majority can tell, so a
// single-replica service is never suppressed.
func ServiceShift(anomalous, total, minPeers int, fraction float64) bool {
	return total >= minPeers && total > 0 && float64(anomalous) > fraction*float64(total)
}
