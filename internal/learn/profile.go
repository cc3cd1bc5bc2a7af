package learn

import (
	"fmt"
	"strconv"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// The buckets of finite positive float64s, [2^-1074, 2^1024): the only ones a learner can
// fill. Refusing others on read also bounds a histogram cell to about 33,600 buckets.
const (
	minBucket = -1074 * profile.SubBuckets
	maxBucket = 1024*profile.SubBuckets - 1
	// maxSpans bounds a histogram's count so merged sums cannot overflow and a float64 counts exactly.
	maxSpans = 1 << 53
)

// checkModel says what is wrong with a model read back, or "", and which histogram (0 in,
// 1 out, 2 ratio): anything no sequence of Model.Observe calls could have made.
func checkModel(m profile.Model) (int, string) {
	for i, h := range []struct {
		name string
		h    profile.Hist
	}{{baseline.ColHistInbound, m.In}, {baseline.ColHistOutbound, m.Out}, {baseline.ColHistRatio, m.Ratio}} {
		total := h.h.Zero
		for b, n := range h.h.Buckets {
			if b < minBucket || b > maxBucket {
				return i, fmt.Sprintf("%s: bucket %d is outside %d..%d, the buckets of finite positive numbers", h.name, b, minBucket, maxBucket)
			}
			if total > maxSpans || n > maxSpans-total {
				return i, fmt.Sprintf("%s: more than 2^53 values", h.name)
			}
			total += n
		}
		if total > maxSpans {
			return i, fmt.Sprintf("%s: more than 2^53 values", h.name)
		}
	}
	switch {
	case m.In.N() != m.Out.N():
		return 1, fmt.Sprintf("%s counts %d pod-spans but %s counts %d: both count every pod-span", baseline.ColHistInbound, m.In.N(), baseline.ColHistOutbound, m.Out.N())
	case m.Ratio.Zero != 0:
		return 2, fmt.Sprintf("%s has %d zeros: a ratio of two rates above zero is never 0", baseline.ColHistRatio, m.Ratio.Zero)
	case m.Ratio.N() > min(m.In.Positive(), m.Out.Positive()):
		return 2, fmt.Sprintf("%s counts %d pod-spans, more than have both rates above zero", baseline.ColHistRatio, m.Ratio.N())
	}
	return 0, ""
}

// profileCells returns a row's baseline.ProfileColumns cells; the summary is blank unless
// the loader can read it back, so the key then scores nothing rather than fails the file.
func profileCells(m profile.Model) []string {
	cells := make([]string, 0, len(baseline.ProfileColumns))
	figures := []string{"", "", "", "", "", ""}
	if u, ok := m.Usual(); ok {
		vals := []float64{u.In, u.Out, u.InHigh, u.OutHigh, u.LogRatio, u.LogRatioMAD}
		readable := true
		for i, v := range vals {
			figures[i] = baseline.FormatNumber(v)
			_, _, msg := baseline.ParseProfileCell(baseline.ProfileColumns[i], figures[i])
			readable = readable && msg == ""
		}
		if !readable {
			figures = []string{"", "", "", "", "", ""}
		}
	}
	cells = append(cells, figures...)
	cells = append(cells, strconv.FormatUint(m.In.N(), 10))
	for _, h := range []profile.Hist{m.In, m.Out, m.Ratio} {
		b, _ := h.MarshalText() // never fails
		cells = append(cells, string(b))
	}
	return cells
}
