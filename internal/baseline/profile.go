package baseline

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// The recommended profile's columns, after the search's in a learned file; a Splunk lookup
// has none and scores in parity only.
const (
	ColUsualInbound   = "usual_inbound_bps"          // median inbound rate, bytes/s
	ColUsualOutbound  = "usual_outbound_bps"         // median outbound rate, bytes/s
	ColHighInbound    = "high_inbound_bps"           // profile.HighQuantile of the inbound rate, bytes/s
	ColHighOutbound   = "high_outbound_bps"          // the same for outbound
	ColMedianLogRatio = "median_ln_outbound:inbound" // median of ln(outbound/inbound)
	ColMADLogRatio    = "mad_ln_outbound:inbound"    // its median absolute deviation
	ColPodSpans       = "count_pod_spans"            // pod-spans learned
	// The histograms (profile.Hist text) behind the figures above, for exact merges of
	// learned files; the loader ignores them.
	ColHistInbound  = "hist_inbound_bps"
	ColHistOutbound = "hist_outbound_bps"
	ColHistRatio    = "hist_outbound:inbound"
)

// ProfileColumns lists the profile's columns in the order a learned file has them.
var ProfileColumns = []string{
	ColUsualInbound, ColUsualOutbound, ColHighInbound, ColHighOutbound,
	ColMedianLogRatio, ColMADLogRatio, ColPodSpans,
	ColHistInbound, ColHistOutbound, ColHistRatio,
}

// profileFigures are the columns that give a profile.Usual its float fields; the first
// four are needed to score (profile.Usual.Valid), so they come together in a header.
var profileFigures = []string{ColUsualInbound, ColUsualOutbound, ColMedianLogRatio, ColMADLogRatio, ColHighInbound, ColHighOutbound}

const requiredFigures = 4

// maxPodSpans bounds count_pod_spans where a float64 still counts exactly.
const maxPodSpans = 1 << 53

// MaxLogRatio bounds |median_ln_outbound:inbound|: ln of a ratio of two finite positive
// float64s is within ±1454, and a MAD, a distance between two such logs, within twice that.
const MaxLogRatio = 1500

// ParseProfileCell reads a cell of profileFigures or count_pod_spans by the loader's rules:
// blank is no value; else plain decimal within its column's bounds. msg says what is wrong.
func ParseProfileCell(col, cell string) (v float64, present bool, msg string) {
	s := strings.TrimSpace(cell)
	if s == "" {
		return 0, false, ""
	}
	if col == ColPodSpans {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n > maxPodSpans {
			return 0, false, Quote(cell) + " is not an integer between 0 and 2^53"
		}
		return float64(n), true, ""
	}
	if strings.ContainsFunc(s, notDecimal) {
		return 0, false, Quote(cell) + " is not a number"
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false, Quote(cell) + " is not a number"
	}
	switch col {
	case ColMedianLogRatio:
		if math.Abs(v) > MaxLogRatio {
			return 0, false, fmt.Sprintf("%s is not the logarithm of a ratio of finite rates (|v| > %d)", clip(s), MaxLogRatio)
		}
	case ColMADLogRatio:
		switch {
		case v < 0:
			return 0, false, "negative median absolute deviation " + clip(s)
		case v > 2*MaxLogRatio:
			return 0, false, fmt.Sprintf("median absolute deviation %s is larger than %d: not a spread of logarithms of rates", clip(s), 2*MaxLogRatio)
		}
	default: // a rate
		switch {
		case v < 0:
			return 0, false, "negative rate " + clip(s) + ": bytes per second are never negative"
		case v > MaxValue:
			return 0, false, fmt.Sprintf("rate %s is larger than %g", clip(s), MaxValue)
		}
	}
	return v, true, ""
}

// Usual returns the key's recommended-profile figures; ok is false when there are none that
// can score (an empty cell reads as NaN). The high levels may be NaN.
func (b *Baseline) Usual(key string) (profile.Usual, bool) {
	return b.RowUsual(b.Row(key))
}

// RowUsual is Usual by row (see Row).
func (b *Baseline) RowUsual(row int) (profile.Usual, bool) {
	if b == nil || b.usual == nil || row < 0 || row >= len(b.usual) {
		return profile.Usual{}, false
	}
	u := b.usual[row]
	return u, u.Valid()
}

// HasProfile reports whether the file has the profile's columns.
func (b *Baseline) HasProfile() bool { return b != nil && b.usual != nil }

// setProfile stores one cell's value (NaN when blank) into u.
func setProfile(u *profile.Usual, col string, v float64) {
	switch col {
	case ColUsualInbound:
		u.In = v
	case ColUsualOutbound:
		u.Out = v
	case ColHighInbound:
		u.InHigh = v
	case ColHighOutbound:
		u.OutHigh = v
	case ColMedianLogRatio:
		u.LogRatio = v
	case ColMADLogRatio:
		u.LogRatioMAD = v
	case ColPodSpans:
		u.N = uint64(v)
	}
}

// emptyUsual is a row's profile before its cells are read: nothing known.
func emptyUsual() profile.Usual {
	nan := math.NaN()
	return profile.Usual{In: nan, Out: nan, InHigh: nan, OutHigh: nan, LogRatio: nan, LogRatioMAD: nan}
}

// checkProfileHeader requires the figures a key needs to score to come together: a file
// with some of them would load but never score. seen maps names to 1-based columns.
func checkProfileHeader(file string, line int, seen map[string]int) error {
	first, firstCol := "", 0
	for _, name := range profileFigures[:requiredFigures] {
		if c, ok := seen[name]; ok {
			first, firstCol = name, c
			break
		}
	}
	if first == "" {
		return nil
	}
	for _, name := range profileFigures[:requiredFigures] {
		if _, ok := seen[name]; !ok {
			return &Error{File: file, Line: line, Column: firstCol, ColumnName: first,
				Msg: fmt.Sprintf("no %q column: the recommended profile's columns %s come together", name, strings.Join(profileFigures[:requiredFigures], ", "))}
		}
	}
	return nil
}
