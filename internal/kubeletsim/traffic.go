package kubeletsim

import "math"

// podTraffic is one pod's normal traffic; everything random about it comes from noiseHash.
type podTraffic struct {
	seed    uint64
	subject uint64 // the pod, in noiseHash

	inRate, outRate float64 // bytes/s, after the per-pod replica spread
	jitter, load    float64
	drift           float64
	driftPeriod     int64
	wave, period    float64
	phase           float64

	// offset is the estate second of simulated second 0 (Config.Day); noise and patterns
	// are functions of estate time, so consecutive days continue each other.
	offset   int64
	patterns *patterns // nil: none
}

func newPodTraffic(seed uint64, subject uint64, svc *ServiceConfig, offset int64) podTraffic {
	spread := orDefault(svc.ReplicaSpread, defaultReplicaSpread)
	return podTraffic{
		seed:     seed,
		subject:  subject,
		offset:   offset,
		patterns: newPatterns(svc),
		inRate:   svc.InBytesPerSec * (1 + spread*(2*unit(noiseHash(seed, subject, 0, streamSpreadIn))-1)),
		outRate:  svc.OutBytesPerSec * (1 + spread*(2*unit(noiseHash(seed, subject, 0, streamSpreadOut))-1)),
		jitter:   orDefault(svc.Jitter, defaultJitter),
		load:     orDefault(svc.Load, defaultLoad),
		drift:    orDefault(svc.Drift, defaultDrift),
		// At least 1 s, so knots are distinct steps.
		driftPeriod: max(1, int64(math.Round(orDefault(svc.DriftPeriod, defaultDriftPeriod)))),
		wave:        orDefault(svc.Wave, defaultWave),
		period:      orDefault(svc.WavePeriod, defaultWavePeriod),
		phase:       2 * math.Pi * unit(noiseHash(seed, subject, 0, streamPhase)),
	}
}

// normalStep is the bytes received and sent in simulated second k without incidents.
func (t *podTraffic) normalStep(k int64) (rx, tx float64) {
	k += t.offset // estate time from here on
	common := (1 + t.wave*math.Sin(2*math.Pi*float64(k)/t.period+t.phase)) *
		(1 + t.load*bell(noiseHash(t.seed, t.subject, k, streamLoad)))
	rx = t.inRate * common * (1 + t.drift*t.driftAt(k, streamDriftRx)) * (1 + t.jitter*bell(noiseHash(t.seed, t.subject, k, streamRx)))
	tx = t.outRate * common * (1 + t.drift*t.driftAt(k, streamDriftTx)) * (1 + t.jitter*bell(noiseHash(t.seed, t.subject, k, streamTx)))
	if t.patterns != nil {
		prx, ptx := t.patterns.multipliers(t.seed, t.subject, k)
		rx, tx = rx*prx, tx*ptx
	}
	return rx, tx
}

// driftAt is a slow wander of one direction's rate in [-1, 1]: straight lines between
// uniform random knots driftPeriod seconds apart. It carries most of the ratio's variance
// because over a span it behaves like one bounded draw: the ratio then has short tails,
// where a sum of per-second noise would approach a Gaussian's (and its 4-sigma tail).
func (t *podTraffic) driftAt(k int64, stream uint64) float64 {
	i := k / t.driftPeriod
	if k%t.driftPeriod < 0 {
		i-- // floor division, for the baseline's negative steps
	}
	frac := (float64(k-i*t.driftPeriod) + 0.5) / float64(t.driftPeriod)
	a := 2*unit(noiseHash(t.seed, t.subject, i, stream)) - 1
	b := 2*unit(noiseHash(t.seed, t.subject, i+1, stream)) - 1
	return a + frac*(b-a)
}

// step is the whole bytes moved in second k, incidents applied; effects nil = normal traffic.
func (t *podTraffic) step(k int64, effects *podEffects) (rx, tx uint64) {
	nrx, ntx := t.normalStep(k)
	mrx, mtx := effects.multipliers(k)
	return uint64(math.Round(nrx * mrx)), uint64(math.Round(ntx * mtx))
}

// counterState is a running sum of steps, kept so that each scrape only adds the steps
// since the previous one; it restarts from its origin when asked for an earlier time.
type counterState struct {
	origin         int64  // first step summed
	initRx, initTx uint64 // totals at the origin (the pod's history before the simulation)

	next           int64 // next step to add
	rx, tx         uint64
	lostRx, lostTx uint64 // bytes counted before resets, so node totals can stay monotonic
}

func newCounterState(origin int64, initRx, initTx uint64) counterState {
	return counterState{origin: origin, initRx: initRx, initTx: initTx, next: origin, rx: initRx, tx: initTx}
}

// podTotals are a pod's cumulative bytes over all interfaces.
type podTotals struct {
	rx, tx                 uint64 // since the last reset, as the pod's counters report them
	lifetimeRx, lifetimeTx uint64 // including what resets dropped
}

// totalsAt is the pod's cumulative traffic at simulated time t (seconds).
// The served counters and the baseline both come from here.
func (t *podTraffic) totalsAt(st *counterState, at float64, effects *podEffects) podTotals {
	k := int64(math.Floor(at))
	if k < st.origin {
		k, at = st.origin, float64(st.origin)
	}
	if k < st.next {
		*st = newCounterState(st.origin, st.initRx, st.initTx)
	}
	for ; st.next < k; st.next++ {
		if effects.restartAt(st.next) {
			st.lostRx, st.lostTx = st.lostRx+st.rx, st.lostTx+st.tx
			st.rx, st.tx = 0, 0
		}
		srx, stx := t.step(st.next, effects)
		st.rx += srx
		st.tx += stx
	}
	tot := podTotals{rx: st.rx, tx: st.tx, lifetimeRx: st.lostRx + st.rx, lifetimeTx: st.lostTx + st.tx}
	if effects.restartAt(k) {
		tot.rx, tot.tx = 0, 0
	}
	// Within a second the counter grows linearly, so it is continuous in wall time.
	if frac := at - float64(k); frac > 0 {
		srx, stx := t.step(k, effects)
		prx, ptx := uint64(frac*float64(srx)), uint64(frac*float64(stx))
		tot.rx, tot.tx = tot.rx+prx, tot.tx+ptx
		tot.lifetimeRx, tot.lifetimeTx = tot.lifetimeRx+prx, tot.lifetimeTx+ptx
	}
	return tot
}

// interfaceCounters splits pod totals over the interfaces by share, the same share both
// ways; floor keeps each interface monotonic as the totals grow.
func interfaceCounters(ifaces []InterfaceShare, rx, tx uint64) (rxs, txs []uint64) {
	rxs = make([]uint64, len(ifaces))
	txs = make([]uint64, len(ifaces))
	for i, in := range ifaces {
		if len(ifaces) == 1 {
			rxs[i], txs[i] = rx, tx
			continue
		}
		rxs[i] = uint64(math.Floor(in.Share * float64(rx)))
		txs[i] = uint64(math.Floor(in.Share * float64(tx)))
	}
	return rxs, txs
}
