package baseline

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// maxErrorLen bounds an error message for any input: two quoted cells of at most 100 bytes
// (up to 4 characters a byte when escaped) and the fixed text around them.
const maxErrorLen = 1500

// FuzzParse: Parse never panics; what it accepts is finite, in bounds and keyed by valid keys;
// what it refuses it refuses with an *Error that names the file and stays short. The seed
// corpus in testdata/fuzz/FuzzParse (valid files and each hostile shape) runs in every go test.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "fuzz.csv"
		b, err := Parse(bytes.NewReader(data), file)
		if err != nil {
			checkError(t, err, file)
			return
		}
		if len(b.Signals()) == 0 && b.usual == nil { // the recommended profile's columns score on their own
			t.Error("accepted a baseline with neither a scored signal nor the profile's columns")
		}
		if len(b.index) != len(b.rows) {
			t.Errorf("%d keys for %d rows", len(b.index), len(b.rows))
		}
		for key, i := range b.index {
			if msg := CheckKey(key); msg != "" {
				t.Errorf("accepted key: %s", msg)
			}
			for s, st := range b.rows[i] {
				for _, v := range []float64{st.Avg, st.Stdev} {
					if math.IsNaN(v) || v < 0 || v > MaxValue {
						t.Errorf("key %q %s: accepted %v", key, Signal(s), v)
					}
				}
				if st.Stdev != 0 && st.Stdev < MinStdev {
					t.Errorf("key %q %s: accepted stdev %v", key, Signal(s), st.Stdev)
				}
				if st.Scorable && (st.Stdev == 0 || math.IsInf(st.Avg+1e8*st.Stdev, 0)) {
					t.Errorf("key %q %s: scorable %+v", key, Signal(s), st)
				}
			}
			// the profile's figures: NaN (blank) or in bounds; Usual only when it can score
			u, ok := b.Usual(key)
			if ok != (b.usual != nil && b.usual[i].Valid()) || ok && !u.Valid() {
				t.Errorf("key %q: Usual %+v ok=%t", key, u, ok)
			}
			if b.usual != nil {
				u := b.usual[i]
				for _, v := range []float64{u.In, u.Out, u.InHigh, u.OutHigh, u.LogRatioMAD} {
					if !math.IsNaN(v) && (v < 0 || v > MaxValue) {
						t.Errorf("key %q: accepted profile figure %v", key, v)
					}
				}
				if !math.IsNaN(u.LogRatio) && math.Abs(u.LogRatio) > MaxLogRatio {
					t.Errorf("key %q: accepted median ln ratio %v", key, u.LogRatio)
				}
			}
		}
	})
}

func checkError(t *testing.T, err error, file string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("error %v is a %T, not an *Error", err, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, file+":") {
		t.Errorf("error %.200q does not name the file", msg)
	}
	if len(msg) > maxErrorLen {
		t.Errorf("error of %d bytes: %.200q...", len(msg), msg)
	}
}
