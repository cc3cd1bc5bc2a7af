package engine

import (
	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// peerKey is one service (baseline key) in one window.
type peerKey struct {
	window int64
	key    string
}

// peerCount says how many pods of a service were scored in a window and how many of them passed
// the count threshold: when most replicas shift together it is a deploy or a load change, not a
// compromised pod.
type peerCount struct {
	window           int64 // its window's start
	total, anomalous int
	shiftReported    bool // the recommended profile's one record for a service-wide shift is out
}

type peerCounts map[peerKey]*peerCount

func (pc peerCounts) of(window int64, key string) *peerCount {
	k := peerKey{window, key}
	c := pc[k]
	if c == nil {
		c = &peerCount{window: window}
		pc[k] = c
	}
	return c
}

// forgetBefore drops the windows that end at or before t on every source.
func (pc peerCounts) forgetBefore(t int64) {
	for k := range pc {
		if k.window < t {
			delete(pc, k)
		}
	}
}

// finishEvents adds peer context to the events from index first on and, in the recommended
// profile, replaces a service-wide shift's pod events by one record for the service.
func (e *Engine) finishEvents(first int, b *baseline.Baseline) {
	kept := first
	for i := first; i < len(e.pending); i++ {
		ev := e.pending[i]
		e.addContext(&ev, b)
		if e.recommended != nil && profile.ServiceShift(ev.PeersAnomalous, ev.PeersTotal,
			e.cfg.Recommended.ServiceShiftPeers, e.cfg.Recommended.ServiceShiftFraction) {
			c := e.peers.of(ev.WindowStart.UnixNano(), ev.Cluster+":"+ev.Service)
			if c.shiftReported {
				continue
			}
			c.shiftReported = true
			ev = ev.serviceShift()
		}
		e.pending[kept] = ev
		kept++
	}
	e.pending = e.pending[:kept]
}

// addContext puts the peer counts and the service's usual rates into an event; the counts are as
// known when the event is made (another node may still be scoring the same window).
func (e *Engine) addContext(ev *Event, b *baseline.Baseline) {
	key := ev.Cluster + ":" + ev.Service
	if c := e.peers[peerKey{ev.WindowStart.UnixNano(), key}]; c != nil {
		ev.PeersTotal, ev.PeersAnomalous = c.total, c.anomalous
	}
	ev.SpanSeconds = e.cfg.Span.Seconds()
	if stats, ok := b.Lookup(key); ok {
		if st := stats[baseline.InboundIO]; st.Scorable {
			ev.UsualInbound, ev.HasUsual = st.Avg, true
		}
		if st := stats[baseline.OutboundIO]; st.Scorable {
			ev.UsualOutbound, ev.HasUsual = st.Avg, true
		}
	}
}
