package engine

import (
	"encoding/binary"
	"slices"
	"strings"
	"unique"
	"unsafe"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// pod is the engine's state for one pod: its identity, its series and what of them is scored.
// It is kept small (an estate has one per pod): names are slices of ref and key, the node is
// the source's, and the recommended profile's state is allocated only when that profile scores.
type pod struct {
	id       podID                 // its canonical uid's bytes; zero when it is keyed by extra.key
	ref      string                // "<namespace>/<name>", unique within the key for the learner
	svcKey   unique.Handle[string] // "<cluster>:<service>", the baseline's key, one copy per service
	src      *source
	baseGen  uint32 // the engine's baseline generation baseRow was looked up in
	baseRow  int32  // the key's row in that baseline
	pending  int32  // points waiting in the series' reorder buffers
	at       int32  // its index in src.pods
	oldest   int64  // Unix ns of the oldest buffered point while pending > 0: a sweep reads no series to find it
	nsLen    uint8  // the namespace's length in ref (at most 63)
	nInline  uint8  // the series in inline
	excluded bool   // kept for learning only: never scored

	peers *peerCount // the count of the window this pod was last counted in among its service's pods

	// A pod's series are in inline while it has two (receive and transmit of one interface),
	// in its own allocation: one less pointer to chase per point. See allSeries.
	inline [2]series

	scoredThrough int64 // spans ending at or before it are scored: their points are late
	lastSeen      int64 // Unix ns of the newest point

	extra *podExtra // nil until the recommended profile scores the pod, it has many series or a long interface name
}

// podExtra is what only some pods need, kept out of the pod struct that every pod has: the
// recommended profile's state, the series index of a pod with many series, the nameKey of a
// pod without a canonical uid, and interface names longer than 8 bytes.
type podExtra struct {
	rec    *podProfile
	index  map[seriesKey]int
	key    string
	series []series // every series of a pod with more than two
	names  []string // the interface names longer than 8 bytes, by their series' packed
}

// podProfile is the recommended profile's per-pod state: the anomalous spans of the last
// minutes, and each direction's recent level.
type podProfile struct {
	trail               profile.Trail
	recentIn, recentOut *profile.Recent
}

// newPod is a pod of group g on source src, keyed by uid (a canonical uid) or else by nameKey.
func newPod(uid string, g groupKey, src *source) *pod {
	p := &pod{ref: g.namespace + "/" + g.pod, nsLen: uint8(len(g.namespace)),
		svcKey: unique.Make(g.cluster + ":" + g.service), src: src}
	var ok bool
	if p.id, ok = parseUID(uid); !ok {
		// A uid of its own copy, not a view into the batch (as it is in a benchmark).
		p.extra = &podExtra{key: nameKey(strings.Clone(uid), g.cluster, g.namespace, g.pod)}
	}
	return p
}

// named says the pod is keyed by its nameKey, not by a canonical uid.
func (p *pod) named() bool { return p.extra != nil && p.extra.key != "" }

// row returns the pod's key's row in b, or -1; gen is b's generation (Engine.baselineGen), so
// the key is looked up once per baseline.
func (p *pod) row(b *baseline.Baseline, gen uint32) int {
	if p.baseGen != gen { // a nil b has no rows: whatever baseRow says, its lookups find nothing
		p.baseGen, p.baseRow = gen, int32(b.Row(p.key()))
	}
	return int(p.baseRow)
}

// profile returns the pod's recommended-profile state, allocating it on first use.
func (p *pod) profile() *podProfile {
	if p.extra == nil {
		p.extra = &podExtra{}
	}
	if p.extra.rec == nil {
		p.extra.rec = &podProfile{recentIn: profile.NewRecent(profile.RecentMinutes), recentOut: profile.NewRecent(profile.RecentMinutes)}
	}
	return p.extra.rec
}

// profileState is the pod's recommended-profile state, or nil when it has none.
func (p *pod) profileState() *podProfile {
	if p.extra == nil {
		return nil
	}
	return p.extra.rec
}

func (p *pod) namespace() string { return p.ref[:p.nsLen] }
func (p *pod) name() string      { return p.ref[p.nsLen+1:] }
func (p *pod) node() string      { return p.src.name }
func (p *pod) key() string       { return p.svcKey.Value() }

// cluster and service are the key's two parts: a cluster name has no ':', a service (part of a
// pod name) neither.
func (p *pod) cluster() string { k := p.key(); return k[:strings.IndexByte(k, ':')] }
func (p *pod) service() string { k := p.key(); return k[strings.IndexByte(k, ':')+1:] }

// group is the pod's group in the windows.
func (p *pod) group() groupKey {
	return groupKey{cluster: p.cluster(), node: p.node(), pod: p.name(), namespace: p.namespace(), service: p.service()}
}

// series is one input stream of a pod: one interface, one direction, one kind of point (a
// counter, deltas or a gauge; a sender that mixes them for one interface gets one series each).
// It is 88 bytes, two of them in every pod.
type series struct {
	// The interface's name: up to 8 bytes packed in the series itself (the lookup of every point
	// compares it without a cache miss), a longer one in the pod's extra.names at index packed.
	packed    uint64
	packedLen uint8 // len(name), or notPacked
	inbound   bool
	kind      pointKind
	primed    bool  // anchor is set
	count     uint8 // points in the reorder buffer
	nWords    uint8 // the buffered points' words, in buf or spill
	spillCap  uint8 // the words spill has room for

	// anchor is the last point whose increase was taken, the base of the next increase. Its
	// start is also that of every buffered point that does not carry its own; before a counter
	// is primed, only that start is set.
	anchor reading
	// The reorder buffer (reorder.go): the points not taken yet, in time order, so that points
	// arriving out of order are put back in order before increases are taken, one to three words
	// each (series.words). They are in buf while they fit, else in spill.
	buf   [inlineWords]uint64
	spill *uint64
}

// reading is one data point of a series.
type reading struct {
	ts, start int64
	v         float64
}

// iface is the interface name of s, one of the pod's series.
func (p *pod) iface(s *series) string {
	if s.packedLen == notPacked {
		return p.extra.names[s.packed]
	}
	var b [8]byte
	for i := range b {
		b[i] = byte(s.packed >> (8 * i))
	}
	return string(b[:s.packedLen])
}

// uid is the pod's k8s.pod.uid, or "" for a pod known by its names.
func (p *pod) uid() string {
	switch {
	case !p.named():
		return p.id.String()
	case strings.HasPrefix(p.extra.key, "\x00"):
		return ""
	}
	return p.extra.key
}

// allSeries are the pod's series.
func (p *pod) allSeries() []series {
	if p.extra != nil && p.extra.series != nil {
		return p.extra.series
	}
	return p.inline[:p.nInline]
}

// seriesIndexFrom is the series count from which a pod looks its series up in a map.
const seriesIndexFrom = 8

// seriesFor returns the pod's series for an interface, direction and kind, creating it while
// the pod has fewer than maxSeries; nil means the limit is reached.
func (p *pod) seriesFor(iface string, inbound bool, kind pointKind, maxSeries int) *series {
	k := seriesKey{iface, inbound, kind}
	packed, n := packName(iface)
	all := p.allSeries()
	if p.extra != nil && p.extra.index != nil {
		if i, ok := p.extra.index[k]; ok {
			return &all[i]
		}
	} else {
		for i := range all {
			s := &all[i]
			if s.inbound != inbound || s.kind != kind {
				continue
			}
			if n != notPacked {
				if s.packedLen == n && s.packed == packed {
					return s
				}
			} else if s.packedLen == notPacked && p.extra.names[s.packed] == iface {
				return s
			}
		}
	}
	if len(all) >= maxSeries {
		return nil
	}
	s := series{packed: packed, packedLen: n, inbound: inbound, kind: kind}
	if n == notPacked {
		s.packed = p.longName(iface)
	}
	switch {
	case p.extra != nil && p.extra.series != nil:
		p.extra.series = append(p.extra.series, s)
	case int(p.nInline) < len(p.inline):
		p.inline[p.nInline] = s
		p.nInline++
	default: // a third series: they all move out of the pod
		if p.extra == nil {
			p.extra = &podExtra{}
		}
		p.extra.series = append(append(make([]series, 0, 2*len(p.inline)), p.inline[:]...), s)
		p.inline, p.nInline = [2]series{}, 0
	}
	all = p.allSeries()
	switch n := len(all); {
	case n == seriesIndexFrom:
		p.extra.index = make(map[seriesKey]int, 2*n)
		for i := range all {
			s := &all[i]
			p.extra.index[seriesKey{p.iface(s), s.inbound, s.kind}] = i
		}
	case n > seriesIndexFrom:
		p.extra.index[k] = n - 1
	}
	return &all[len(all)-1]
}

// longName is the index of a name longer than 8 bytes in the pod's extra.names, where it is
// kept (a copy: the name came from a batch) if it is not there already.
func (p *pod) longName(name string) uint64 {
	if p.extra == nil {
		p.extra = &podExtra{}
	}
	if i := slices.Index(p.extra.names, name); i >= 0 {
		return uint64(i)
	}
	p.extra.names = append(p.extra.names, strings.Clone(name))
	return uint64(len(p.extra.names) - 1)
}

// notPacked is the packedLen of a name longer than 8 bytes.
const notPacked = 0xff

// packName packs a name of up to 8 bytes into a uint64; with its length it is the name.
func packName(name string) (uint64, uint8) {
	n := len(name)
	switch {
	case n > 8:
		return 0, notPacked
	case n >= 4: // two 4-byte loads that overlap, not a loop: it runs for every point
		b := unsafe.Slice(unsafe.StringData(name), n)
		lo, hi := uint64(binary.LittleEndian.Uint32(b)), uint64(binary.LittleEndian.Uint32(b[n-4:]))
		return lo | hi<<(8*(n-4)), uint8(n)
	}
	var v uint64
	for i := 0; i < n; i++ {
		v |= uint64(name[i]) << (8 * i)
	}
	return v, uint8(n)
}

// seriesKey looks a series up without building a string for it.
type seriesKey struct {
	iface   string
	inbound bool
	kind    pointKind
}

// podSpan is one pod-span's inbound and outbound, summed over interfaces, and the time its
// increases cover (a 60 s scrape's increase covers 60 s, whatever the span length).
type podSpan struct {
	in, out       float64
	hasIn, hasOut bool
	covered       int64 // ns, the longest of its series'
}

// buffered counts a point at ts just put into one of the pod's reorder buffers.
func (p *pod) buffered(ts int64) {
	if p.pending == 0 || ts < p.oldest {
		p.oldest = ts
	}
	p.pending++
}
