package engine

// podID identifies a pod: by k8s.pod.uid when present, else by cluster, namespace and name.
type podID struct {
	uid, cluster, namespace, name string
}

// pod is the engine's state for one pod: its identity, its series and its open span.
type pod struct {
	name, namespace, cluster, node, service string
	key                                     string // "<cluster>:<service>", the baseline's key
	ref                                     string // "<namespace>/<name>", unique within the key for the learner

	series []series

	spanOpen  bool
	spanStart int64 // Unix ns of the open span
	lastSeen  int64 // Unix ns of the newest point
}

// series is one input stream of a pod: one interface, one direction.
type series struct {
	iface   string
	inbound bool

	// Cumulative state: the previous point, to turn totals into increases.
	primed bool
	start  int64
	last   float64
	lastTs int64

	// The open span's contribution: a sum of increases, or for gauges a mean of n values.
	sum   float64
	n     int32
	gauge bool
}

func (p *pod) seriesFor(iface string, inbound bool) *series {
	for i := range p.series {
		if s := &p.series[i]; s.iface == iface && s.inbound == inbound {
			return s
		}
	}
	p.series = append(p.series, series{iface: iface, inbound: inbound})
	return &p.series[len(p.series)-1]
}

// cumulativeResult says what a cumulative point contributed.
type cumulativeResult uint8

const (
	increase cumulativeResult = iota // inc is the series' growth since the previous point
	primed                           // the series' first point: nothing to add yet
	stale                            // not newer than the previous point: ignored
)

// cumulative turns a running total into an increase with Prometheus' increase() rule: the first
// point only primes; a lower value or a new start time is a reset, and the new value is the
// increase.
func (s *series) cumulative(start, ts int64, v float64) (float64, cumulativeResult) {
	res, inc := increase, 0.0
	switch {
	case !s.primed:
		s.primed, res = true, primed
	case ts <= s.lastTs:
		return 0, stale
	case v < s.last || start != s.start:
		inc = v
	default:
		inc = v - s.last
	}
	s.start, s.last, s.lastTs = start, v, ts
	return inc, res
}

func (s *series) add(v float64, gauge bool) {
	s.sum += v
	s.n++
	s.gauge = gauge
}

// takeSpan returns the pod's inbound and outbound for the open span (summed over interfaces)
// and clears the series' contributions for the next span.
func (p *pod) takeSpan() (in, out float64, hasIn, hasOut bool) {
	for i := range p.series {
		s := &p.series[i]
		if s.n == 0 {
			continue
		}
		v := s.sum
		if s.gauge {
			v /= float64(s.n)
		}
		if s.inbound {
			in, hasIn = in+v, true
		} else {
			out, hasOut = out+v, true
		}
		s.sum, s.n = 0, 0
	}
	p.spanOpen = false
	return in, out, hasIn, hasOut
}
