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

// groups lists the signals' column blocks (avg_ then stdev_ each); volumes come after the
// ratios so the section 7 columns stay a prefix.
func groups(volumes bool) [][]Signal {
	if volumes {
		return [][]Signal{{InOut, OutIn}, {InboundIO, OutboundIO}}
	}
	return [][]Signal{{InOut, OutIn}}
}

// Acc is a running mean and variance (Welford, which avoids sum-of-squares cancellation);
// M2 is the sum of squared deviations from the mean.
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

// Merge returns the accumulator of both value sets, up to rounding (Chan et al.).
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

// Stdev is the sample standard deviation (n-1), 0 for one value as Splunk's; check N > 0 first.
func (a Acc) Stdev() float64 {
	if a.N < 2 {
		return 0
	}
	return stdevOf(a.M2, a.N)
}

func stdevOf(m2 float64, n int64) float64 {
	return math.Sqrt(m2 / float64(n-1))
}

// m2For rebuilds M2 from a written stdev, picking one that gives the stdev back exactly
// (sd*sd*(n-1) can be an ulp off). For about 1 % of stdevs none does, M2/(n-1) not reaching
// every double: Row.fileSD keeps those.
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
