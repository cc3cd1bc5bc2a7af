package profile

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// SubBuckets is the number of histogram buckets per doubling. 16 keeps a bucket within
// 4.4 % of its neighbour (ln 2 / 16 = 0.043 in log space), well under the 0.1-1.3
// spread of ln(ratio) measured on real pods, so quantiles and MADs read from the
// histogram are as good as exact ones for scoring. It is part of the persisted format:
// histograms with a different value cannot be merged.
const SubBuckets = 16

// Hist is a histogram of non-negative values on fixed logarithmic buckets: bucket i
// holds the values in [2^(i/16), 2^((i+1)/16)). Fixed buckets are what make it
// mergeable: two collectors' (or two days') histograms of one key add up bucket by
// bucket to exactly the histogram of all their values, whatever the order, which a
// streaming median or a t-digest does not guarantee. A pod's rates span a few powers
// of two, so a histogram holds tens of buckets, not thousands.
//
// Zero counts the values equal to 0 (idle samples): they are kept apart because they
// have no logarithm, and counted because an idle half of the day does make the usual
// rate 0.
//
// The zero value is an empty histogram ready to use. It encodes (JSON, CSV cell) through
// MarshalText.
type Hist struct {
	Zero    uint64
	Buckets map[int32]uint64
}

// bucketOf clamps to ±2^20 buckets (2^±65536), far outside any byte rate or ratio.
func bucketOf(x float64) int32 {
	b := math.Floor(math.Log2(x) * SubBuckets)
	return int32(max(-1<<20, min(1<<20, b)))
}

// bucketLog returns the natural logarithm of bucket b's lower edge plus frac of its
// width (frac in [0,1]).
func bucketLog(b int32, frac float64) float64 {
	return (float64(b) + frac) / SubBuckets * math.Ln2
}

// Add records x. Negative, NaN and infinite values are ignored: they are not rates and
// one of them must not poison a histogram that is kept for 30 days.
func (h *Hist) Add(x float64) { h.AddN(x, 1) }

// AddN records n copies of x.
func (h *Hist) AddN(x float64, n uint64) {
	switch {
	case n == 0 || math.IsNaN(x) || math.IsInf(x, 0) || x < 0:
		return
	case x == 0:
		h.Zero += n
	default:
		if h.Buckets == nil {
			h.Buckets = map[int32]uint64{}
		}
		h.Buckets[bucketOf(x)] += n
	}
}

// Merge adds o's counts to h. It is exact, commutative and associative.
func (h *Hist) Merge(o Hist) {
	h.Zero += o.Zero
	for b, n := range o.Buckets {
		if h.Buckets == nil {
			h.Buckets = make(map[int32]uint64, len(o.Buckets))
		}
		h.Buckets[b] += n
	}
}

// N is the number of values recorded.
func (h Hist) N() uint64 {
	n := h.Zero
	for _, c := range h.Buckets {
		n += c
	}
	return n
}

// Positive is the number of values above zero.
func (h Hist) Positive() uint64 { return h.N() - h.Zero }

func (h Hist) sorted() []int32 {
	keys := make([]int32, 0, len(h.Buckets))
	for b, n := range h.Buckets {
		if n > 0 {
			keys = append(keys, b)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// Quantile returns the q-quantile (0 <= q <= 1) of the values, zeros included,
// interpolated geometrically inside the bucket that holds it, so its error is under
// half a bucket (2.2 %). It returns NaN for an empty histogram.
func (h Hist) Quantile(q float64) float64 {
	n := h.N()
	if n == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	rank := min(max(q, 0), 1) * float64(n)
	if rank <= float64(h.Zero) && h.Zero > 0 {
		return 0
	}
	l, ok := logQuantile(h, h.sorted(), rank-float64(h.Zero))
	if !ok {
		return 0
	}
	return math.Exp(l)
}

// logQuantile finds the natural log of the value of the given rank (0..positive count)
// among the positive values.
func logQuantile(h Hist, keys []int32, rank float64) (float64, bool) {
	if len(keys) == 0 {
		return 0, false
	}
	cum := 0.0
	for _, b := range keys {
		c := float64(h.Buckets[b])
		if cum+c >= rank {
			return bucketLog(b, max(0, rank-cum)/c), true
		}
		cum += c
	}
	return bucketLog(keys[len(keys)-1], 1), true
}

// LogMedianMAD returns the median of ln(x) over the positive values and their median
// absolute deviation from it, both in natural-log units, read from the buckets (bucket
// centres for the deviations), so both are within one bucket width (0.043) of the
// exact figures. ok is false when no positive value was recorded.
//
// Why logs and medians: a ratio of two byte rates is heavy-tailed (one idle sample
// makes it 100x), so a mean and standard deviation of raw ratios are dominated by a few
// outliers and put avg + 4 sd an order of magnitude above the typical ratio. In log
// space a x10 change is the same distance (ln 10 = 2.3) whatever the pod's level, and
// the median and MAD ignore the outliers that remain.
func (h Hist) LogMedianMAD() (median, mad float64, ok bool) {
	keys := h.sorted()
	pos := float64(h.Positive())
	median, ok = logQuantile(h, keys, pos/2)
	if !ok {
		return 0, 0, false
	}
	type dev struct {
		d float64
		n uint64
	}
	devs := make([]dev, 0, len(keys))
	for _, b := range keys {
		devs = append(devs, dev{math.Abs(bucketLog(b, 0.5) - median), h.Buckets[b]})
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].d < devs[j].d })
	cum := 0.0
	for _, d := range devs {
		cum += float64(d.n)
		if cum >= pos/2 {
			return median, d.d, true
		}
	}
	return median, devs[len(devs)-1].d, true
}

// MarshalText encodes h for one CSV cell or log line: "z<zero>" followed by
// "<bucket>:<count>" pairs in bucket order, separated by spaces, e.g. "z3 160:12 161:40".
// No commas or quotes, so the cell needs no CSV quoting; buckets in order, so equal
// histograms encode to equal bytes. An empty histogram is "z0".
func (h Hist) MarshalText() ([]byte, error) {
	b := strconv.AppendUint([]byte{'z'}, h.Zero, 10)
	for _, k := range h.sorted() {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(k), 10)
		b = append(b, ':')
		b = strconv.AppendUint(b, h.Buckets[k], 10)
	}
	return b, nil
}

// UnmarshalText decodes MarshalText's form. It rejects anything else, including a
// bucket listed twice or a zero count, with an error saying what is wrong; h is
// changed only on success.
func (h *Hist) UnmarshalText(text []byte) error {
	fields := strings.Fields(string(text))
	if len(fields) == 0 || !strings.HasPrefix(fields[0], "z") {
		return fmt.Errorf("histogram %q: must start with z<count of zeros>", text)
	}
	zero, err := strconv.ParseUint(fields[0][1:], 10, 64)
	if err != nil {
		return fmt.Errorf("histogram %q: zero count: %w", text, err)
	}
	out := Hist{Zero: zero}
	for _, f := range fields[1:] {
		ks, ns, ok := strings.Cut(f, ":")
		if !ok {
			return fmt.Errorf("histogram %q: %q is not <bucket>:<count>", text, f)
		}
		k, err := strconv.ParseInt(ks, 10, 32)
		if err != nil {
			return fmt.Errorf("histogram %q: bucket %q: %w", text, ks, err)
		}
		n, err := strconv.ParseUint(ns, 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("histogram %q: count %q is not a positive integer", text, ns)
		}
		if out.Buckets == nil {
			out.Buckets = map[int32]uint64{}
		}
		if _, dup := out.Buckets[int32(k)]; dup {
			return fmt.Errorf("histogram %q: bucket %d listed twice", text, k)
		}
		out.Buckets[int32(k)] = n
	}
	*h = out
	return nil
}
