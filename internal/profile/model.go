package profile

import "math"

// Model is what the recommended profile learns for one key: cluster:service, so a pod
// replaced by a deploy inherits its service's history. Histograms, so that the models of
// other days, collectors and nodes merge exactly.
type Model struct {
	// In and Out are pod-span rates in bytes/s, idle spans included: rates, not bytes,
	// so a baseline learned at one scrape interval scores data scraped at another.
	In  Hist `json:"in"`
	Out Hist `json:"out"`
	// Ratio is out/in where both rates are above zero; ln(in/out) = -ln(out/in) serves
	// the other direction.
	Ratio Hist `json:"ratio"`
}

// Observe learns one pod-span's rates, bytes/s. Pass only spans with both directions
// observed: the others are not scored, so must not be learned.
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

// HighQuantile is the quantile Usual reports as a direction's high level: a daily surge
// of an hour or more is inside the 95th percentile, one-sample bursts (2-3 % of samples,
// 30-100x the median) are not. On the real day the 99th percentile took those bursts in
// on half the pods and cost a third of the download recall.
const HighQuantile = 0.95

// Usual is the summary of a Model that scoring reads (its learned-file columns in brackets).
type Usual struct {
	In, Out         float64 // median rate, bytes/s [usual_inbound_bps, usual_outbound_bps]
	InHigh, OutHigh float64 // HighQuantile of the rate, bytes/s [high_inbound_bps, high_outbound_bps]
	// median of ln(out/in) and its MAD [median_ln_outbound:inbound, mad_ln_outbound:inbound]
	LogRatio, LogRatioMAD float64
	N                     uint64 // pod-spans learned [count_pod_spans]
}

// Usual summarises m; ok is false, and the key cannot score, if no pod-span had both rates > 0.
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

// Valid reports whether u can score. A file without the profile's columns reads as NaN,
// which must score nothing rather than everything; NaN high levels only skip the high
// gate. The ratio's median is a logarithm: it may be negative.
func (u Usual) Valid() bool {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	return finite(u.LogRatio) && finite(u.LogRatioMAD) && u.LogRatioMAD >= 0 &&
		finite(u.In) && u.In >= 0 && finite(u.Out) && u.Out >= 0
}
