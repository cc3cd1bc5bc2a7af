package engine

import (
	"math"

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

// ingest walks one batch and returns the newest timestamp among the points it looked at.
func (e *Engine) ingest(md pmetric.Metrics) (newest int64, any bool) {
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
				n, ts := e.ingestMetric(m, p, reason)
				if n > 0 && (!any || ts > newest) {
					newest, any = ts, true
				}
			}
		}
	}
	return newest, any
}

// ingestMetric feeds one metric's points to pod p, or drops them all for reason when p is nil.
func (e *Engine) ingestMetric(m pmetric.Metric, p *pod, reason DropReason) (seen int, newest int64) {
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
		return 0, 0
	}
	if p == nil {
		e.batch.dropped[reason] += int64(dps.Len())
		return 0, 0
	}
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		ts := int64(dp.Timestamp())
		// Only usable points move data time, so one bad point cannot make the rest late.
		if e.ingestPoint(p, dp, kind, ts) && (seen == 0 || ts > newest) {
			newest = ts
			seen++
		}
	}
	return seen, newest
}

// ingestPoint reports whether the point was used (a priming point counts as used).
func (e *Engine) ingestPoint(p *pod, dp pmetric.NumberDataPoint, kind pointKind, ts int64) bool {
	attrs := dp.Attributes()
	dir, ok := attrs.Get(e.cfg.Direction.Attribute)
	if !ok {
		e.batch.drop(DropUnknownDirection)
		return false
	}
	var inbound bool
	switch dir.Str() {
	case e.cfg.Direction.Inbound:
		inbound = true
	case e.cfg.Direction.Outbound:
	default:
		e.batch.drop(DropUnknownDirection)
		return false
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
		e.batch.drop(DropNotFinite)
		return false
	}
	if v < 0 {
		e.batch.drop(DropNegative)
		return false
	}
	var iface string
	if a, ok := attrs.Get(e.cfg.InterfaceAttribute); ok {
		iface = a.Str()
	}
	if ts > p.lastSeen {
		p.lastSeen = ts // also for a priming point, so a new pod is not expired before its first span
	}
	s := p.seriesFor(iface, inbound)
	if kind == cumulativePoint {
		inc, res := s.cumulative(int64(dp.StartTimestamp()), ts, v)
		switch res {
		case primed:
			e.batch.used++
			return true
		case stale:
			e.batch.drop(DropLate)
			return false
		}
		v = inc
	}
	start := floorTo(ts, e.span)
	if start+e.span <= e.sweptThrough || p.spanOpen && start < p.spanStart {
		e.batch.drop(DropLate) // its span is already scored
		return false
	}
	if p.spanOpen && start > p.spanStart {
		e.closeSpan(p, e.baselines.Current())
	}
	if !p.spanOpen {
		p.spanOpen, p.spanStart = true, start
	}
	s.add(v, kind == gaugePoint)
	e.batch.used++
	return true
}

// resolvePod finds or creates the pod a resource describes, or says why its points are dropped.
func (e *Engine) resolvePod(attrs pcommon.Map) (*pod, DropReason) {
	uid := stringAttr(attrs, attrPodUID)
	if uid != "" {
		// A known pod's identity was checked when it was first seen: skip the other lookups.
		if p := e.pods[podID{uid: uid}]; p != nil {
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
	id := podID{uid: uid}
	if uid == "" {
		id = podID{cluster: cluster, namespace: namespace, name: name}
		if p := e.pods[id]; p != nil {
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
	service := e.namer.service(name)
	p := &pod{
		name: name, namespace: namespace, cluster: cluster, node: node, service: service,
		key: cluster + ":" + service, ref: namespace + "/" + name,
	}
	// Excluded pods hold no state, so they can neither crowd scored pods out nor grow memory.
	if e.exclude.match(p) {
		return nil, DropExcluded
	}
	if len(e.pods) >= e.cfg.Limits.MaxPods {
		e.warnOnce(DropPodLimit, "Points dropped: limits.max_pods reached")
		return nil, DropPodLimit
	}
	e.pods[id] = p
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
