package engine

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestPackName: every name of up to 8 bytes packs into its bytes, first byte lowest, and nothing
// else (the bytes past its length are zero), whatever its length and bytes; longer ones do not.
func TestPackName(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 9; n++ {
		for range 200 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			v, l := packName(string(b))
			if n > 8 {
				if l != notPacked {
					t.Fatalf("%q (%d bytes) packed", b, n)
				}
				continue
			}
			var want uint64
			for i, c := range b {
				want |= uint64(c) << (8 * i)
			}
			if v != want || int(l) != n {
				t.Fatalf("packName(%q) = %#x, %d; want %#x, %d", b, v, l, want, n)
			}
		}
	}
}

// TestSeriesForNames: a series is found by its interface's exact name, whether the name is packed
// (up to 8 bytes) or not, and names that differ in any byte, in length only, or by a NUL are
// different series.
func TestSeriesForNames(t *testing.T) {
	names := []string{"", "e", "eth0", "eth1", "eth0\x00", "ens12345", "ens12346", "ens123456", "ens123457",
		"\x00", "\x00\x00", "a-very-long-interface-name"}
	p := &pod{}
	made := map[*series]string{}
	for _, n := range names {
		for _, in := range []bool{true, false} {
			s := p.seriesFor(n, in, cumulativePoint, 100)
			if s == nil || p.iface(s) != n || s.inbound != in {
				t.Fatalf("seriesFor(%q, %v) = %+v", n, in, s)
			}
		}
	}
	if len(p.allSeries()) != 2*len(names) {
		t.Fatalf("%d series for %d names and 2 directions", len(p.allSeries()), len(names))
	}
	// On a pod with few series (found by scan), every pair of names is two series.
	for _, a := range names {
		for _, b := range names {
			r := &pod{}
			sa := r.seriesFor(a, true, cumulativePoint, 100)
			sb := r.seriesFor(b, true, cumulativePoint, 100)
			if (a == b) != (sa == sb) || len(r.allSeries()) != map[bool]int{true: 1, false: 2}[a == b] {
				t.Errorf("names %q and %q: %d series", a, b, len(r.allSeries()))
			}
		}
	}
	// Looked up again (through the index, since there are more than seriesIndexFrom series, and
	// by scan on a pod with few), each name finds its own series.
	q := &pod{}
	for _, n := range names[:3] {
		q.seriesFor(n, true, cumulativePoint, 100)
	}
	for _, pp := range []*pod{p, q} {
		for i := range pp.allSeries() {
			s := &pp.allSeries()[i]
			if got := pp.seriesFor(pp.iface(s), s.inbound, s.kind, 100); got != s {
				t.Errorf("seriesFor(%q) found the series of %q", pp.iface(s), pp.iface(got))
			}
			if other, ok := made[s]; ok && other != pp.iface(s) {
				t.Errorf("series reused for %q and %q", other, pp.iface(s))
			}
			made[s] = pp.iface(s)
		}
	}
}

// A pod with its two inline series (and their buffered points) stays in the runtime's 288-byte
// size class: every field added to it costs a tracked pod 32 bytes more, not the field's size.
func TestPodFitsIts288ByteClass(t *testing.T) {
	if size := unsafe.Sizeof(pod{}); size > 288 {
		t.Errorf("a pod is %d bytes, more than 288", size)
	}
}
