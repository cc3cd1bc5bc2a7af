package profile

import (
	"encoding/json"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"
)

func lognormal(rng *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*rng.NormFloat64())
}

func TestHistMergeIsExact(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var all, a, b Hist
	for i := range 2000 {
		x := lognormal(rng, 1000, 1)
		if i%10 == 0 {
			x = 0
		}
		all.Add(x)
		if i%3 == 0 {
			a.Add(x)
		} else {
			b.Add(x)
		}
	}
	var ab, ba Hist
	ab.Merge(a)
	ab.Merge(b)
	ba.Merge(b)
	ba.Merge(a)
	for name, h := range map[string]Hist{"a+b": ab, "b+a": ba} {
		got, _ := h.MarshalText()
		want, _ := all.MarshalText()
		if string(got) != string(want) {
			t.Errorf("%s: merged histogram differs from the histogram of all values", name)
		}
	}
}

func TestHistQuantileWithinHalfBucket(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var h Hist
	xs := make([]float64, 5000)
	for i := range xs {
		xs[i] = lognormal(rng, 24000, 0.8)
		h.Add(xs[i])
	}
	sort.Float64s(xs)
	tol := math.Exp2(1.0/SubBuckets) - 1 // one bucket: the bound interpolation can miss by
	for _, q := range []float64{0.05, 0.5, 0.9, 0.95, 0.99} {
		exact := xs[int(q*float64(len(xs)))]
		got := h.Quantile(q)
		if rel := math.Abs(got/exact - 1); rel > tol {
			t.Errorf("q=%g: got %.1f, exact %.1f (%.2f%% off, bound %.2f%%)", q, got, exact, 100*rel, 100*tol)
		}
	}
}

func TestHistZerosAndEdges(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		q      float64
		want   float64 // NaN: expect NaN
	}{
		{"empty", nil, 0.5, math.NaN()},
		{"idle most of the time: usual rate is 0", []float64{0, 0, 0, 500}, 0.5, 0},
		{"idle a quarter of the time", []float64{0, 500, 500, 500}, 0.5, 500},
		{"negative, NaN and Inf are not rates", []float64{-1, math.NaN(), math.Inf(1), 500}, 0.5, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Hist
			for _, v := range tt.values {
				h.Add(v)
			}
			got := h.Quantile(tt.q)
			switch {
			case math.IsNaN(tt.want):
				if !math.IsNaN(got) {
					t.Fatalf("got %g, want NaN", got)
				}
			case tt.want == 0:
				if got != 0 {
					t.Fatalf("got %g, want 0", got)
				}
			case math.Abs(got/tt.want-1) > 0.045:
				t.Fatalf("got %g, want %g within a bucket", got, tt.want)
			}
		})
	}
}

func TestHistLogMedianMAD(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	var h Hist
	for range 20000 {
		h.Add(lognormal(rng, 24, 0.5))
	}
	med, mad, ok := h.LogMedianMAD()
	if !ok {
		t.Fatal("no positive values")
	}
	// For ln x ~ N(ln 24, 0.5): median ln 24 = 3.178, MAD 0.5 x 0.6745 = 0.337.
	if math.Abs(med-math.Log(24)) > 0.03 || math.Abs(mad-0.337) > 0.03 {
		t.Fatalf("median %.3f MAD %.3f, want 3.178 and 0.337 within a bucket", med, mad)
	}
	if _, _, ok := (Hist{Zero: 4}).LogMedianMAD(); ok {
		t.Fatal("a histogram of zeros has no log median")
	}
}

func TestHistText(t *testing.T) {
	var h Hist
	for _, v := range []float64{0, 0, 1, 1, 1000, 0.001} {
		h.Add(v)
	}
	b, err := h.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "z2 -160:1 0:2 159:1" {
		t.Fatalf("encoded %q", b)
	}
	var back Hist
	if err := back.UnmarshalText(b); err != nil {
		t.Fatal(err)
	}
	if b2, _ := back.MarshalText(); string(b2) != string(b) {
		t.Fatalf("round trip %q -> %q", b, b2)
	}
	// JSON goes through the text form, so a persisted day is compact and sorted.
	j, err := json.Marshal(Model{In: h})
	if err != nil || !strings.Contains(string(j), `"in":"z2 -160:1 0:2 159:1"`) {
		t.Fatalf("json %s %v", j, err)
	}
	for _, bad := range []string{"", "3 1:2", "z", "zx", "z0 1", "z0 1:0", "z0 a:1", "z0 1:1 1:2", "z0 99999999999:1"} {
		h2 := h
		if err := h2.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
		if n := h2.N(); n != h.N() {
			t.Errorf("%q: a failed decode changed the histogram", bad)
		}
	}
}
