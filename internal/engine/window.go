package engine

import (
	"sort"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

// groupKey is the search's final `by k8s.cluster.name k8s.node.name k8s.pod.name service`,
// plus the namespace so that same-named pods in two namespaces stay apart.
type groupKey struct {
	cluster, node, pod, namespace, service string
}

// windowCount is one group's anomalous spans in one window.
type windowCount struct {
	count     int
	anomalies []string // distinct, sorted, at most maxAnomalies: the smallest ones, as values() keeps
	maxZ      [baseline.NumSignals]float64
	flagged   [baseline.NumSignals]bool
	qualified bool // passed the event rule (parity: count > count_threshold)
	emitted   bool // immediate mode: already sent for this window
	// The anomalous span with the highest z-score: its bytes in and out, for the event.
	peakZ           float64
	peakIn, peakOut float64
}

// windows holds the counts of the windows not closed yet, keyed by window start (Unix ns).
type windows struct {
	length        int64
	maxAnomalies  int
	open          map[int64]map[groupKey]*windowCount
	closedThrough int64 // every window ending at or before it is closed
}

func newWindows(length time.Duration, maxAnomalies int) windows {
	return windows{length: int64(length), maxAnomalies: maxAnomalies, open: map[int64]map[groupKey]*windowCount{}}
}

func (w *windows) startOf(t int64) int64 { return floorTo(t, w.length) }

// add counts one anomalous pod-span and returns its group's running count.
func (w *windows) add(start int64, g groupKey, v *verdict, sp podSpan) *windowCount {
	groups := w.open[start]
	if groups == nil {
		groups = map[groupKey]*windowCount{}
		w.open[start] = groups
	}
	c := groups[g]
	if c == nil {
		c = &windowCount{}
		groups[g] = c
	}
	c.count++
	c.insertText(v.text, w.maxAnomalies)
	for s := range v.flagged {
		if !v.flagged[s] {
			continue
		}
		if !c.flagged[s] || v.z[s] > c.maxZ[s] {
			c.maxZ[s], c.flagged[s] = v.z[s], true
		}
		if v.z[s] > c.peakZ { // flagged z is above k > 0, so the first span always sets it
			c.peakZ, c.peakIn, c.peakOut = v.z[s], sp.in, sp.out
		}
	}
	return c
}

func (c *windowCount) insertText(text string, limit int) {
	i := sort.SearchStrings(c.anomalies, text)
	if i < len(c.anomalies) && c.anomalies[i] == text {
		return
	}
	if len(c.anomalies) >= limit {
		if i >= limit {
			return
		}
		c.anomalies = c.anomalies[:limit-1]
	}
	c.anomalies = append(c.anomalies, "")
	copy(c.anomalies[i+1:], c.anomalies[i:])
	c.anomalies[i] = text
}

func (w *windows) event(start int64, g groupKey, c *windowCount, at int64) Event {
	ev := Event{
		Cluster: g.cluster, Node: g.node, Pod: g.pod, Namespace: g.namespace, Service: g.service,
		Count:       c.count,
		Anomalies:   append([]string(nil), c.anomalies...),
		WindowStart: time.Unix(0, start).UTC(),
		WindowEnd:   time.Unix(0, start+w.length).UTC(),
		MaxZ:        map[baseline.Signal]float64{},
		Time:        time.Unix(0, at).UTC(),
		PeakInbound: c.peakIn, PeakOutbound: c.peakOut,
	}
	for s, ok := range c.flagged {
		if ok {
			ev.MaxZ[baseline.Signal(s)] = c.maxZ[s]
		}
	}
	return ev
}

// closeThrough ends every window that ends at or before t and appends the events of the groups
// that passed the event rule and were not sent already (immediate mode), in a stable order.
func (w *windows) closeThrough(t int64, out []Event) []Event {
	w.closedThrough = max(w.closedThrough, floorTo(t, w.length))
	var starts []int64
	for start := range w.open {
		if start+w.length <= t {
			starts = append(starts, start)
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	for _, start := range starts {
		groups := w.open[start]
		delete(w.open, start)
		first := len(out)
		for g, c := range groups {
			if c.qualified && !c.emitted {
				out = append(out, w.event(start, g, c, start+w.length))
			}
		}
		sortEvents(out[first:])
	}
	return out
}

// sortEvents orders events by window start, cluster, host and pod, as the replay prints them.
func sortEvents(evs []Event) {
	sort.Slice(evs, func(i, j int) bool {
		a, b := &evs[i], &evs[j]
		if !a.WindowStart.Equal(b.WindowStart) {
			return a.WindowStart.Before(b.WindowStart)
		}
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		if a.Pod != b.Pod {
			return a.Pod < b.Pod
		}
		return a.Namespace < b.Namespace
	})
}

// floorTo rounds t down to a multiple of d, also for negative t.
func floorTo(t, d int64) int64 {
	r := t % d
	if r < 0 {
		r += d
	}
	return t - r
}
