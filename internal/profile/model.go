package profile

import "math"

// Model is what the recommended profile learns for one key (cluster:service, learned
// over the service's pod-spans, so that a pod replaced by a deploy inherits its
// service's history): the distribution of each direction's rate and of the ratio
// outbound/inbound. It is three histograms, so models of other days, other collectors
// and other nodes merge exactly (Merge), and a learner persisted per UTC day keeps one
// Model per key and day and merges the days it covers.
type Model struct {
	// In and Out are the pod-span rates in bytes per second, idle spans (0) included.
	// Rates, not bytes per span, so that a baseline learned at one scrape interval
	// scores data scraped at another.
	In  Hist `json:"in"`
	Out Hist `json:"out"`
	// Ratio is outbound/inbound for the pod-spans where both rates are above zero;
	// inbound/outbound is its reciprocal, so one histogram serves both directions
	// (ln(in/out) = -ln(out/in)).
	Ratio Hist `json:"ratio"`
}

// Observe records one pod-span with both directions observed, as rates in bytes per
// second. Spans with a direction missing are not scored, so they are not learned.
func (m *Model) Observe(in, out float64) {
	if !validRate(in) || !validRate(out) {
		return
	}
	m.In.Add(in)
	m.Out.Add(out)
	if in > 0 && out > 0 {
		m.Ratio.Add(out / in)
	}
}

// Merge adds o's observations to m.
func (m *Model) Merge(o Model) {
	m.In.Merge(o.In)
	m.Out.Merge(o.Out)
	m.Ratio.Merge(o.Ratio)
}

func validRate(x float64) bool { return x >= 0 && !math.IsInf(x, 0) }

// HighQuantile is the quantile Usual reports as a direction's high level. The 95th
// percentile sits above what a pod does for more than 5 % of the time (about 70 minutes
// a day): a surge of an hour or more that recurs daily is inside it, while isolated
// one-sample bursts (measured at 2-3 % of samples, 30-100x the median) are not, so
// they do not inflate it. The 99th percentile was measured too: those bursts pushed it
// to 30-100x the median on half the real pods and cost a third of the download recall.
const HighQuantile = 0.95

// Usual is the summary of a Model that scoring reads, and what the learned file's
// extra columns hold for a key (see the column names below).
type Usual struct {
	In, Out         float64 // median rate, bytes/s (usual_inbound_bps, usual_outbound_bps)
	InHigh, OutHigh float64 // HighQuantile of the rate, bytes/s (high_inbound_bps, high_outbound_bps)
	// LogRatio and LogRatioMAD are the median of ln(outbound/inbound) and its median
	// absolute deviation (median_ln_outbound:inbound, mad_ln_outbound:inbound).
	LogRatio, LogRatioMAD float64
	N                     uint64 // pod-spans learned (count_pod_spans)
}

// Usual summarises m. ok is false when m has no pod-span with both directions above
// zero, in which case nothing can be scored for the key.
func (m Model) Usual() (u Usual, ok bool) {
	med, mad, ok := m.Ratio.LogMedianMAD()
	if !ok {
		return Usual{}, false
	}
	return Usual{
		In: m.In.Quantile(0.5), Out: m.Out.Quantile(0.5),
		InHigh: m.In.Quantile(HighQuantile), OutHigh: m.Out.Quantile(HighQuantile),
		LogRatio: med, LogRatioMAD: mad, N: m.In.N(),
	}, true
}

// Valid reports whether u can score: the ratio's median and MAD and both usual rates
// are finite and not negative (the median may be negative: it is a logarithm). A key
// read from a file that lacks the profile's columns has NaN there and scores nothing
// rather than everything. The high levels are optional: NaN skips the high gate.
func (u Usual) Valid() bool {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	return finite(u.LogRatio) && finite(u.LogRatioMAD) && u.LogRatioMAD >= 0 &&
		finite(u.In) && u.In >= 0 && finite(u.Out) && u.Out >= 0
}
