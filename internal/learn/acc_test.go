package learn

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAccMergeEqualsAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		var all, a, b Acc
		na, nb := r.IntN(50), r.IntN(50)
		for i := range na + nb {
			x := 1e6 + r.NormFloat64()*3 // a large offset is where naive sums of squares fail
			all.Add(x)
			if i < na {
				a.Add(x)
			} else {
				b.Add(x)
			}
		}
		m := a.Merge(b)
		if m.N != all.N || !near(m.Mean, all.Mean) || !near(m.Stdev(), all.Stdev()) {
			t.Fatalf("merge %+v != add %+v", m, all)
		}
	}
}

func TestSingleValueStdevIsZero(t *testing.T) {
	var a Acc
	a.Add(3.5)
	if a.Stdev() != 0 || a.M2 != 0 {
		t.Errorf("%+v", a)
	}
}

// m2For should give back the exact stdev nearly always, so that Acc.Stdev agrees with the
// file; the rare misses are covered by Row.fileSD (see TestCSVRoundTripForeignFile).
func TestM2ForReproducesStdev(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const tries = 200000
	misses := 0
	for i := range tries {
		sd := math.Exp(r.NormFloat64() * 10)
		n := int64(2 + r.IntN(1000))
		if i%3 == 0 {
			n = int64(2 + r.IntN(1<<30))
		}
		m2 := m2For(sd, n)
		got := stdevOf(m2, n)
		if got != sd {
			misses++
		}
		if math.Abs(got-sd) > 4e-16*sd {
			t.Fatalf("sd %v n %d: m2 %v gives %v", sd, n, m2, got)
		}
	}
	if misses > tries/50 {
		t.Errorf("%d of %d stdevs not reproduced", misses, tries)
	}
}
