package kubeletsim

import (
	"fmt"
	"math"
)

// Patterns of real traffic that the base noise model (bounded, short-tailed, both
// directions together) lacks, measured on a day of a public microservice benchmark on
// Kubernetes (46 single-replica services, one sample a minute):
//
//   - Idle minutes: in 5-10 % of a quiet service's minutes outbound falls to about 1.5 %
//     of its usual rate while inbound falls to about 35 %, mostly one minute at a time,
//     with no catch-up afterwards. One such minute moves ln(out/in) by about -3.
//   - Spikes: in about 1 % of minutes inbound jumps 4-60x (median 12x) for one minute
//     while outbound stays.
//   - Together they make ln(out/in) heavy-tailed: its stdev per minute is 0.6-1.3
//     (median about 0.85) where the minutes without them have 0.3-0.5.
//   - Level shifts: several services' inbound is 2-3x higher in some hours than in others
//     while outbound stays; between days inbound halves (the shift a baseline learned the
//     day before does not know).
//   - Surges: a service's inbound runs at 5-11x its usual level for about 7 hours,
//     outbound flat.
//
// Idle minutes and spikes are drawn per pod and slot, so every replica has its own; a
// schedule applies to all replicas at the same estate times.

// IdleConfig is short idle episodes, multiplying the rates by In and Out; zero fields default.
type IdleConfig struct {
	Probability float64 `json:"probability"`       // chance that a slot is idle, 0..0.5
	Seconds     float64 `json:"seconds,omitempty"` // slot length; default 60
	In          float64 `json:"in,omitempty"`      // inbound factor while idle; default 0.35
	Out         float64 `json:"out,omitempty"`     // outbound factor while idle; default 0.015
	// Spread varies each slot's depth by exp(Spread x u), u uniform in [-1, 1] per
	// direction; the default 0.7 makes in/out jump 6-90x (23x at the middle). Negative: none.
	Spread float64 `json:"spread,omitempty"`
}

// SpikeConfig is short bursts of one direction, by a factor log-uniform in [Min, Max].
type SpikeConfig struct {
	Probability float64 `json:"probability"`         // chance that a slot has a spike, 0..0.5
	Seconds     float64 `json:"seconds,omitempty"`   // slot length; default 60
	Direction   string  `json:"direction,omitempty"` // "in" (default) or "out"
	Min         float64 `json:"min,omitempty"`       // default 4
	Max         float64 `json:"max,omitempty"`       // default 60
}

// RateChange multiplies a service's rates by In and Out (0: unchanged) from From to To,
// estate seconds; without To it is a level shift, with Every it repeats, before From too
// (a daily surge: {"from": 3600, "to": 28800, "every": 86400}). Overlaps multiply.
type RateChange struct {
	From  float64 `json:"from"`
	To    float64 `json:"to,omitempty"`
	Every float64 `json:"every,omitempty"`
	In    float64 `json:"in,omitempty"`
	Out   float64 `json:"out,omitempty"`
}

// Defaults of the patterns, from the measured day.
const (
	defaultPatternSeconds = 60.0
	defaultIdleIn         = 0.35
	defaultIdleOut        = 0.015
	defaultIdleSpread     = 0.7
	defaultSpikeMin       = 4.0
	defaultSpikeMax       = 60.0

	// maxDay bounds Config.Day: day d's first counters sum every second since day 1.
	maxDay     = 14
	daySeconds = 86400
)

func (s *ServiceConfig) validatePatterns() error {
	factor := func(name string, v float64) error {
		if v != 0 && !(v > 0 && v <= 1000) {
			return fmt.Errorf("%s %v: want a factor in (0, 1000]", name, v)
		}
		return nil
	}
	slot := func(name string, p, secs float64) error {
		if !(p >= 0 && p <= 0.5) {
			return fmt.Errorf("%s.probability %v: want 0..0.5", name, p)
		}
		if secs != 0 && !(secs >= 1 && secs <= daySeconds) {
			return fmt.Errorf("%s.seconds %v: want 1..%d", name, secs, daySeconds)
		}
		return nil
	}
	if in := s.Idle; in != nil {
		if err := slot("idle", in.Probability, in.Seconds); err != nil {
			return err
		}
		if in.Spread > 2 {
			return fmt.Errorf("idle.spread %v: want at most 2", in.Spread)
		}
		for _, f := range []struct {
			n string
			v float64
		}{{"idle.in", in.In}, {"idle.out", in.Out}} {
			if err := factor(f.n, f.v); err != nil {
				return err
			}
		}
	}
	if sp := s.Spikes; sp != nil {
		if err := slot("spikes", sp.Probability, sp.Seconds); err != nil {
			return err
		}
		if sp.Direction != "" && sp.Direction != "in" && sp.Direction != "out" {
			return fmt.Errorf("spikes.direction %q: want in or out", sp.Direction)
		}
		if err := factor("spikes.min", sp.Min); err != nil {
			return err
		}
		if err := factor("spikes.max", sp.Max); err != nil {
			return err
		}
		if orZero(sp.Min, defaultSpikeMin) > orZero(sp.Max, defaultSpikeMax) {
			return fmt.Errorf("spikes: min %v is above max %v", orZero(sp.Min, defaultSpikeMin), orZero(sp.Max, defaultSpikeMax))
		}
	}
	for i, c := range s.Schedule {
		where := fmt.Sprintf("schedule[%d]", i)
		if math.IsNaN(c.From) || math.IsInf(c.From, 0) || math.Abs(c.From) > 1e9 {
			return fmt.Errorf("%s: from %v: want seconds of estate time", where, c.From)
		}
		if c.To != 0 && !(c.To > c.From && c.To <= 1e9) {
			return fmt.Errorf("%s: to %v: want 0 (no end) or a time after from %v", where, c.To, c.From)
		}
		if c.Every != 0 && (c.To == 0 || !(c.Every >= c.To-c.From && c.Every <= 1e9)) {
			return fmt.Errorf("%s: every %v: needs a to, and at least to - from", where, c.Every)
		}
		if err := factor(where+".in", c.In); err != nil {
			return err
		}
		if err := factor(where+".out", c.Out); err != nil {
			return err
		}
	}
	return nil
}

// orZero is v, or def when v is 0.
func orZero(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// patterns are a pod's resolved patterns, in whole estate seconds.
type patterns struct {
	idleP, idleIn, idleOut float64
	idleSpread             float64
	idleSlot               int64

	spikeP                   float64
	spikeSlot                int64
	spikeOut                 bool
	spikeLogMin, spikeLogLen float64

	changes []stepChange
}

type stepChange struct {
	from, to, every int64 // to < 0: no end; every 0: once
	in, out         float64
}

// newPatterns resolves a service's patterns; nil when it has none, so that a service
// without them computes exactly what it did before patterns existed.
func newPatterns(svc *ServiceConfig) *patterns {
	if svc.Idle == nil && svc.Spikes == nil && len(svc.Schedule) == 0 {
		return nil
	}
	secs := func(v float64) int64 { return max(1, int64(math.Round(orZero(v, defaultPatternSeconds)))) }
	pt := &patterns{}
	if in := svc.Idle; in != nil {
		pt.idleP, pt.idleSlot = in.Probability, secs(in.Seconds)
		pt.idleIn, pt.idleOut = orZero(in.In, defaultIdleIn), orZero(in.Out, defaultIdleOut)
		pt.idleSpread = max(0, orZero(in.Spread, defaultIdleSpread))
	}
	if sp := svc.Spikes; sp != nil {
		pt.spikeP, pt.spikeSlot, pt.spikeOut = sp.Probability, secs(sp.Seconds), sp.Direction == "out"
		lo, hi := math.Log(orZero(sp.Min, defaultSpikeMin)), math.Log(orZero(sp.Max, defaultSpikeMax))
		pt.spikeLogMin, pt.spikeLogLen = lo, hi-lo
	}
	for _, c := range svc.Schedule {
		sc := stepChange{from: int64(math.Ceil(c.From)), to: -1, every: int64(math.Round(c.Every)), in: orZero(c.In, 1), out: orZero(c.Out, 1)}
		if c.To != 0 {
			sc.to = int64(math.Ceil(c.To))
		}
		pt.changes = append(pt.changes, sc)
	}
	return pt
}

// floorDiv is a / b rounded down, for negative estate steps (the baseline's).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// active reports whether the change applies in estate second ke.
func (c *stepChange) active(ke int64) bool {
	if c.every > 0 {
		off := ke - c.from
		off -= floorDiv(off, c.every) * c.every
		return off < c.to-c.from
	}
	return ke >= c.from && (c.to < 0 || ke < c.to)
}

// idle is the idle factors on inbound and outbound in estate second ke, ok false when the
// pod is not idle then.
func (pt *patterns) idle(seed, subject uint64, ke int64) (rx, tx float64, ok bool) {
	if pt.idleP <= 0 {
		return 1, 1, false
	}
	slot := floorDiv(ke, pt.idleSlot)
	if unit(noiseHash(seed, subject, slot, streamIdle)) >= pt.idleP {
		return 1, 1, false
	}
	depth := func(stream uint64) float64 {
		return math.Exp(pt.idleSpread * (2*unit(noiseHash(seed, subject, slot, stream)) - 1))
	}
	return pt.idleIn * depth(streamIdleDepthRx), pt.idleOut * depth(streamIdleDepthTx), true
}

// spike is the spike factor in estate second ke, 1 without a spike.
func (pt *patterns) spike(seed, subject uint64, ke int64) float64 {
	if pt.spikeP <= 0 {
		return 1
	}
	slot := floorDiv(ke, pt.spikeSlot)
	if unit(noiseHash(seed, subject, slot, streamSpike)) >= pt.spikeP {
		return 1
	}
	return math.Exp(pt.spikeLogMin + pt.spikeLogLen*unit(noiseHash(seed, subject, slot, streamSpikeSize)))
}

// multipliers are the factors of the pod's patterns on its rates in estate second ke.
func (pt *patterns) multipliers(seed, subject uint64, ke int64) (rx, tx float64) {
	rx, tx = 1, 1
	if pt == nil {
		return rx, tx
	}
	for i := range pt.changes {
		if c := &pt.changes[i]; c.active(ke) {
			rx *= c.in
			tx *= c.out
		}
	}
	if irx, itx, ok := pt.idle(seed, subject, ke); ok {
		rx *= irx
		tx *= itx
	}
	if f := pt.spike(seed, subject, ke); f != 1 {
		if pt.spikeOut {
			tx *= f
		} else {
			rx *= f
		}
	}
	return rx, tx
}
