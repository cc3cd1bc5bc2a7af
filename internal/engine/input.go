package engine

import (
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
)

// Resource attributes the engine reads; kubeletstats sets the pod ones, a resource or
// k8sattributes processor the cluster and node.
const (
	attrPodUID      = "k8s.pod.uid"
	attrPodName     = "k8s.pod.name"
	attrNamespace   = "k8s.namespace.name"
	attrClusterName = "k8s.cluster.name"
	attrNodeName    = "k8s.node.name"
	attrHostName    = "host.name"
)

type pointKind uint8

const (
	cumulativePoint pointKind = iota
	deltaPoint
	gaugePoint
)

// ingest walks one batch and feeds its points to their pods' reorder buffers; the sources that
// got usable points are marked for a sweep.
func (e *Engine) ingest(md pmetric.Metrics, now time.Time) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		var p *pod
		var reason DropReason
		resolved := false
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != e.cfg.Metric {
					continue
				}
				if !resolved {
					p, reason = e.resolvePod(rm.Resource().Attributes())
					resolved = true
				}
				e.ingestMetric(m, p, reason, now)
			}
		}
	}
}

// ingestMetric feeds one metric's points to pod p, or drops them all for reason when p is nil.
func (e *Engine) ingestMetric(m pmetric.Metric, p *pod, reason DropReason, now time.Time) {
	var dps pmetric.NumberDataPointSlice
	var kind pointKind
	switch m.Type() {
	case pmetric.MetricTypeSum:
		dps, kind = m.Sum().DataPoints(), cumulativePoint
		if m.Sum().AggregationTemporality() == pmetric.AggregationTemporalityDelta {
			kind = deltaPoint
		}
	case pmetric.MetricTypeGauge:
		dps, kind = m.Gauge().DataPoints(), gaugePoint
	default:
		e.batch.dropped[DropUnsupportedType] += int64(dataPointCount(m))
		return
	}
	if p == nil {
		e.batch.dropped[reason] += int64(dps.Len())
		return
	}
	for i := 0; i < dps.Len(); i++ {
		if r := e.ingestPoint(p, dps.At(i), kind, now); r != 0 {
			e.batch.drop(r)
		}
	}
}

// maxInterfaceName bounds an interface name; Linux allows 15 bytes, a CNI's names are longer.
const maxInterfaceName = 253

// maxTime bounds the timestamps taken (2116-02-20): span and window ends computed from them stay
// far from int64's end, and a time leaves the reorder buffer's two top bits to its marks.
const maxTime = int64(1)<<62 - 1

// ingestPoint buffers one point of pod p, or says why it is dropped.
func (e *Engine) ingestPoint(p *pod, dp pmetric.NumberDataPoint, kind pointKind, now time.Time) DropReason {
	attrs := dp.Attributes()
	dir, ok := attrs.Get(e.cfg.Direction.Attribute)
	if !ok {
		return DropUnknownDirection
	}
	var inbound bool
	switch dir.Str() {
	case e.cfg.Direction.Inbound:
		inbound = true
	case e.cfg.Direction.Outbound:
	default:
		return DropUnknownDirection
	}
	var v float64
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		v = float64(dp.IntValue())
	case pmetric.NumberDataPointValueTypeDouble:
		v = dp.DoubleValue()
	default:
		v = math.NaN()
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return DropNotFinite
	}
	if v < 0 {
		return DropNegative
	}
	ts := int64(dp.Timestamp())
	if ts < 0 || ts > maxTime {
		return DropFuture // past 2116 or past int64 (uint64 from the wire): no span or window end would fit
	}
	src := p.src
	if src.future(ts, p, now, e.skew, e.lateness, e.set.DataTimeOnly) {
		return DropFuture
	}
	// scoredThrough, closedThrough and swept lie on span boundaries: comparing the time with them
	// is comparing its span's start, without a division per point.
	if ts < p.scoredThrough || ts < src.windows.closedThrough {
		return DropLate // its span is scored, or its window closed
	}
	var iface string
	if a, ok := attrs.Get(e.cfg.InterfaceAttribute); ok {
		iface = a.Str()
		if len(iface) > maxInterfaceName {
			return DropInvalidName // it is kept per series and saved with the state: no megabyte names
		}
	}
	s := p.seriesFor(iface, inbound, kind, 2*e.cfg.Limits.MaxInterfaces)
	if s == nil {
		e.warnOnce(DropSeriesLimit, "Points dropped: a pod has more interfaces than limits.max_interfaces")
		return DropSeriesLimit
	}
	// A series' first point only primes: it must not move time, or one made-up point would.
	priming := kind == cumulativePoint && !s.primed && s.count == 0
	switch s.offer(reading{ts: ts, start: int64(dp.StartTimestamp()), v: v}, ts > p.lastSeen) {
	case tooOld:
		return DropLate
	case duplicate:
		return DropDuplicate
	case bufferFull:
		return DropReorderLimit
	}
	p.buffered(ts)
	if ts > p.lastSeen {
		p.lastSeen = ts // also for a priming point, so a new pod is not expired before its first span
	}
	if ts < src.swept {
		src.catchUp = true // a backlog after an idle flush: its span is scored at this batch's sweep
	}
	if !priming {
		src.see(ts, e.lateness)
	}
	if src.touched != e.batchSeq {
		src.touched = e.batchSeq
		e.touched = append(e.touched, src)
	}
	if p.excluded {
		return DropExcluded // from the detection: it still feeds the learner
	}
	e.batch.used++
	return 0
}

// resolvePod finds or creates the pod a resource describes, or says why its points are dropped.
func (e *Engine) resolvePod(attrs pcommon.Map) (*pod, DropReason) {
	uid := stringAttr(attrs, attrPodUID)
	if uid != "" {
		// A known pod's identity was checked when it was first seen: skip the other lookups.
		if p := e.findPod(uid); p != nil {
			return p, 0
		}
	}
	name := stringAttr(attrs, attrPodName)
	if name == "" {
		return nil, DropNoPodName
	}
	cluster := stringAttr(attrs, attrClusterName)
	if cluster == "" {
		cluster = e.cfg.ClusterName
	}
	if cluster == "" {
		e.warnOnce(DropNoCluster, "Points dropped: no k8s.cluster.name on the resource and no cluster_name configured")
		return nil, DropNoCluster
	}
	namespace := stringAttr(attrs, attrNamespace)
	if uid == "" {
		if p := e.pods.find("", cluster, namespace, name); p != nil {
			return p, 0
		}
	}
	node := stringAttr(attrs, attrNodeName)
	if node == "" {
		node = stringAttr(attrs, attrHostName)
	}
	if node == "" {
		node = e.cfg.NodeName
	}
	if node == "" {
		e.warnOnce(DropNoNode, "Points dropped: no k8s.node.name or host.name on the resource and no node_name configured")
		return nil, DropNoNode
	}
	// Names become baseline keys, CSV cells and HEC fields: only Kubernetes' own forms get that far.
	if !validPodName(name) || !validNamespace(namespace) || !validNodeName(node) || !validClusterName(cluster) || !validUID(uid) {
		e.warnOnce(DropInvalidName, "Points dropped: a pod, namespace, node, cluster name or uid is not of the form Kubernetes allows")
		return nil, DropInvalidName
	}
	p, err := e.newPod(uid, name, namespace, cluster, node)
	return p, err
}

// podCursor is a place in a source's pods: the pod findPod expects next.
type podCursor struct {
	src *source
	at  int
}

// findPod returns the known pod of a uid, or nil. A node's batches list its pods in the same
// order at every scrape, and its pods are kept in the order they were first seen, so the pod
// after the last one found in its node's list is tried before the pod table: when it is the one,
// the table's lookup, two cache misses on a gateway, is spared.
func (e *Engine) findPod(uid string) *pod {
	id, ok := parseUID(uid)
	if !ok {
		return e.pods.find(uid, "", "", "")
	}
	if src, at := e.next.src, e.next.at; src != nil && at < len(src.pods) {
		// Every pod in a source's list is in the index (sweep and forgetSource take them out of
		// both), and a pod keyed by its names has a zero id, which no canonical uid parses to.
		if p := src.pods[at]; p.id == id {
			e.next.at++
			return p
		}
	}
	p := e.pods.byUID.find(id)
	if p != nil {
		e.next = podCursor{src: p.src, at: int(p.at) + 1}
	}
	return p
}

// newPod tracks a pod whose names are valid, unless it is excluded and not learned from, or the
// pod limit is reached.
func (e *Engine) newPod(uid, name, namespace, cluster, node string) (*pod, DropReason) {
	g := groupKey{cluster: cluster, node: node, pod: name, namespace: namespace, service: e.namer.service(name)}
	excluded := e.exclude.match(g)
	if excluded && (e.observer == nil || e.cfg.Learn.Exclude) {
		// The filter macro is the detection's, not the baseline search's: excluded pods are
		// still learned from, unless learn.exclude says otherwise. Otherwise they hold no state.
		return nil, DropExcluded
	}
	if e.pods.len() >= e.cfg.Limits.MaxPods {
		e.warnOnce(DropPodLimit, "Points dropped: limits.max_pods reached")
		return nil, DropPodLimit
	}
	src := e.sources[node]
	if src == nil {
		src = newSource(node, &e.cfg)
		e.sources[node] = src
	}
	p := newPod(uid, g, src)
	p.excluded = excluded
	src.add(p)
	e.pods.add(p)
	return p, 0
}

func (e *Engine) warnOnce(r DropReason, msg string) {
	if !e.warned[r] {
		e.warned[r] = true
		e.set.Logger.Warn(msg+"; see the component's datapoints_dropped telemetry for counts", zap.String("reason", r.String()))
	}
}

func stringAttr(attrs pcommon.Map, name string) string {
	if v, ok := attrs.Get(name); ok {
		return v.Str()
	}
	return ""
}

func dataPointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}
