package learn

import (
	"math"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

// Signal is the baseline package's signal; its constant order is the learned file's column order.
type Signal = baseline.Signal

// The learned signals, under the short names this package's arithmetic reads best with.
const (
	InOut      = baseline.InboundOutbound
	OutIn      = baseline.OutboundInbound
	InboundIO  = baseline.InboundIO
	OutboundIO = baseline.OutboundIO
	numSignals = baseline.NumSignals
)

// signals lists the signals a table carries, in column order.
func signals(volumes bool) []Signal {
	if volumes {
		return []Signal{InOut, OutIn, InboundIO, OutboundIO}
	}
	return []Signal{InOut, OutIn}
}

// groups lists the signals in column blocks: each block's avg_ columns, then its stdev_
// columns; the volume block follows the ratios so the section 7 columns stay a prefix.
func groups(volumes bool) [][]Signal {
	if volumes {
		return [][]Signal{{InOut, OutIn}, {InboundIO, OutboundIO}}
	}
	return [][]Signal{{InOut, OutIn}}
}

// Acc is a running mean and variance (Welford): N values, their Mean, and M2, the sum of
// squared deviations from the mean. Welford avoids the cancellation of sum-of-squares.
type Acc struct {
	N    int64
	Mean float64
	M2   float64
}

// Add records one value.
func (a *Acc) Add(x float64) {
	a.N++
	d := x - a.Mean
	a.Mean += d / float64(a.N)
	a.M2 += d * (x - a.Mean)
}

// Merge returns the accumulator of both value sets (Chan et al. pairwise combination),
// equal up to rounding to adding all values to one accumulator.
func (a Acc) Merge(b Acc) Acc {
	if a.N == 0 {
		return b
	}
	if b.N == 0 {
		return a
	}
	n := a.N + b.N
	fa, fb, fn := float64(a.N), float64(b.N), float64(n)
	d := b.Mean - a.Mean
	return Acc{N: n, Mean: a.Mean + d*fb/fn, M2: a.M2 + b.M2 + d*d*fa*fb/fn}
}

// Stdev is the sample standard deviation (n-1); like Splunk's stdev it is 0 for a single
// value. It is meaningless when N is 0: check N first.
func (a Acc) Stdev() float64 {
	if a.N < 2 {
		return 0
	}
	return stdevOf(a.M2, a.N)
}

func stdevOf(m2 float64, n int64) float64 {
	return math.Sqrt(m2 / float64(n-1))
}

// m2For reconstructs M2 from a written stdev over n values. Among the M2 values that
// round to the same stdev it picks one that gives that stdev back exactly, so that
// Acc.Stdev agrees with the file; sd*sd*(n-1) alone can be one ulp off. For about 1% of
// stdevs no M2 does, because M2/(n-1) does not reach every double: Row keeps the value
// read for those (see Row.fileSD).
func m2For(sd float64, n int64) float64 {
	if n < 2 {
		return 0
	}
	m2 := sd * sd * float64(n-1)
	if math.IsInf(m2, 0) || stdevOf(m2, n) == sd {
		return m2
	}
	lo, hi := m2, m2
	for range 64 {
		lo = math.Nextafter(lo, 0)
		hi = math.Nextafter(hi, math.Inf(1))
		if stdevOf(lo, n) == sd {
			return lo
		}
		if stdevOf(hi, n) == sd {
			return hi
		}
	}
	return m2
}
