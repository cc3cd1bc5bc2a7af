package profile

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// SubBuckets is the number of buckets per doubling: 4.4 % wide (0.043 in ln), well under
// the 0.1-1.3 spread of ln(ratio) on real pods. Part of the persisted format: histograms
// with another value cannot be merged.
const SubBuckets = 16

// Hist is a histogram of non-negative values on fixed log buckets, bucket i holding
// [2^(i/16), 2^((i+1)/16)). Fixed buckets merge exactly in any order, which a streaming
// median or a t-digest does not; a pod's rates span a few doublings, so tens of buckets.
// Zero counts idle samples apart (no logarithm), yet counts them: an idle half-day does
// make the usual rate 0. The zero value is ready to use; JSON and CSV use MarshalText.
type Hist struct {
	Zero    uint64
	Buckets map[int32]uint64
}

// bucketOf clamps to ±2^20 buckets (2^±65536), far outside any byte rate or ratio.
func bucketOf(x float64) int32 {
	b := math.Floor(math.Log2(x) * SubBuckets)
	return int32(max(-1<<20, min(1<<20, b)))
}

// bucketLog is the ln of bucket b's lower edge plus frac (0..1) of its width.
func bucketLog(b int32, frac float64) float64 {
	return (float64(b) + frac) / SubBuckets * math.Ln2
}

// Add records x, ignoring negative, NaN and infinite values: one must not poison 30 days.
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

// Quantile returns the q-quantile, zeros included, interpolated geometrically within its
// bucket (error under 2.2 %); NaN when empty.
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

// logQuantile is the ln of the positive value of the given rank (0..positive count).
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

// LogMedianMAD returns the median of ln(x) over the positive values and its MAD, within
// a bucket (0.043) of exact; ok is false with no positive value. Logs and medians because
// byte-rate ratios are heavy-tailed (an idle sample makes one 100x): avg + 4 sd sat an
// order of magnitude above the typical ratio, while in ln a x10 change is 2.3 at any level.
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

// MarshalText encodes h as "z<zeros> <bucket>:<count>..." in bucket order ("z3 160:12
// 161:40", empty "z0"): no comma or quote to CSV-quote, and equal histograms encode equal.
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

// UnmarshalText decodes MarshalText's form, rejecting anything else (a bucket listed
// twice, a zero count); h changes only on success.
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
