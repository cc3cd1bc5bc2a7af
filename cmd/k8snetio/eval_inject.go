package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
	"github.com/k8snetio/k8snetioanomaly/internal/evalreport"
)

// injectSpec is one --inject: a synthetic attack on each chosen pod.
type injectSpec struct {
	raw     string
	kind    evalreport.Kind
	factor  float64
	minutes int
	pods    int // 0: every pod
	seed    uint64
}

func parseInjectSpec(s string) (injectSpec, error) {
	spec := injectSpec{raw: s, factor: 10, minutes: 10, seed: 1}
	bad := func(format string, args ...any) (injectSpec, error) {
		return injectSpec{}, fmt.Errorf("--inject %s: %s", s, fmt.Sprintf(format, args...))
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return bad("%q is not key=value", kv)
		}
		var err error
		switch k {
		case "kind":
			spec.kind, err = evalreport.ParseKind(v)
		case "factor":
			spec.factor, err = strconv.ParseFloat(v, 64)
			if err == nil && (!(spec.factor > 0) || math.IsInf(spec.factor, 0)) {
				err = fmt.Errorf("factor must be a positive number, got %s", v)
			}
		case "minutes":
			spec.minutes, err = strconv.Atoi(v)
			if err == nil && spec.minutes < 1 {
				err = fmt.Errorf("minutes must be at least 1, got %s", v)
			}
		case "pods":
			if v != "all" {
				spec.pods, err = strconv.Atoi(v)
				if err == nil && spec.pods < 1 {
					err = fmt.Errorf("pods must be all or at least 1, got %s", v)
				}
			}
		case "seed":
			spec.seed, err = strconv.ParseUint(v, 10, 64)
		default:
			return bad("unknown key %q (want kind, factor, minutes, pods, seed)", k)
		}
		if err != nil {
			return bad("%v", err)
		}
	}
	if spec.kind == "" {
		return bad("kind=exfiltration or kind=download is required")
	}
	return spec, nil
}

// podName is a pod as events and labels name it.
type podName struct{ namespace, pod string }

// pointKind is how a point's value relates to its span's bytes.
type pointKind uint8

const (
	cumulativePoint pointKind = iota // a running total: the increase since the previous point counts
	deltaPoint                       // an increase already
	gaugePoint                       // the span's value already
)

// forEachPoint calls fn for every number point of the metric (Sum or Gauge) on a resource
// naming a pod.
func forEachPoint(md pmetric.Metrics, metric string, fn func(podName, pmetric.NumberDataPoint, pointKind)) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		attrs := rm.Resource().Attributes()
		p := podName{namespace: attrString(attrs, "k8s.namespace.name"), pod: attrString(attrs, "k8s.pod.name")}
		if p.pod == "" {
			continue
		}
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if m.Name() != metric {
					continue
				}
				var dps pmetric.NumberDataPointSlice
				typ := gaugePoint
				switch m.Type() {
				case pmetric.MetricTypeSum:
					dps, typ = m.Sum().DataPoints(), cumulativePoint
					if m.Sum().AggregationTemporality() == pmetric.AggregationTemporalityDelta {
						typ = deltaPoint
					}
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				default:
					continue
				}
				for l := 0; l < dps.Len(); l++ {
					fn(p, dps.At(l), typ)
				}
			}
		}
	}
}

func attrString(attrs pcommon.Map, name string) string {
	if v, ok := attrs.Get(name); ok {
		return v.AsString()
	}
	return ""
}

// describe measures the recordings: pods, pod-hours, first and last point.
func describe(recs []pmetric.Metrics, cfg engine.Config) evalreport.Data {
	type extent struct{ first, last time.Time }
	pods := map[podName]*extent{}
	var d evalreport.Data
	for _, md := range recs {
		forEachPoint(md, cfg.Metric, func(p podName, dp pmetric.NumberDataPoint, _ pointKind) {
			t := dp.Timestamp().AsTime()
			e := pods[p]
			if e == nil {
				pods[p] = &extent{t, t}
			} else {
				e.first, e.last = minTime(e.first, t), maxTime(e.last, t)
			}
			if d.From.IsZero() || t.Before(d.From) {
				d.From = t
			}
			if t.After(d.To) {
				d.To = t
			}
		})
	}
	d.Pods = len(pods)
	for _, e := range pods {
		d.PodHours += e.last.Sub(e.first).Hours()
	}
	return d
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// injSeries is one pod's series of the attacked direction: its points in time order.
type injSeries struct {
	typ pointKind
	pts []pmetric.NumberDataPoint
}

// inject adds one incident of spec to each chosen pod by rewriting its points in recs, and
// returns the labels. An incident lies within the pod's data and ends by closeBy; pods with
// less room than the incident lasts are skipped and counted.
func inject(recs []pmetric.Metrics, cfg engine.Config, spec injectSpec, closeBy time.Time) ([]evalreport.Incident, int) {
	direction := cfg.Direction.Outbound
	if spec.kind == evalreport.Download {
		direction = cfg.Direction.Inbound
	}
	type seriesKey struct {
		pod   podName
		iface string
		typ   pointKind
	}
	series := map[seriesKey]*injSeries{}
	type extent struct{ first, last time.Time }
	pods := map[podName]*extent{}
	for _, md := range recs {
		forEachPoint(md, cfg.Metric, func(p podName, dp pmetric.NumberDataPoint, typ pointKind) {
			t := dp.Timestamp().AsTime()
			if e := pods[p]; e == nil {
				pods[p] = &extent{t, t}
			} else {
				e.first, e.last = minTime(e.first, t), maxTime(e.last, t)
			}
			if d, ok := dp.Attributes().Get(cfg.Direction.Attribute); !ok || d.AsString() != direction {
				return
			}
			k := seriesKey{pod: p, iface: attrString(dp.Attributes(), cfg.InterfaceAttribute), typ: typ}
			s := series[k]
			if s == nil {
				s = &injSeries{typ: typ}
				series[k] = s
			}
			s.pts = append(s.pts, dp)
		})
	}

	names := make([]podName, 0, len(pods))
	for p := range pods {
		names = append(names, p)
	}
	slices.SortFunc(names, func(a, b podName) int {
		return strings.Compare(a.namespace+"/"+a.pod, b.namespace+"/"+b.pod)
	})
	rng := rand.New(rand.NewPCG(spec.seed, 0x6b386e6574696f)) // the second word only makes the stream this tool's own
	chosen := names
	if spec.pods > 0 && spec.pods < len(names) {
		perm := rng.Perm(len(names))[:spec.pods]
		slices.Sort(perm)
		chosen = make([]podName, len(perm))
		for i, j := range perm {
			chosen[i] = names[j]
		}
	}

	dur := time.Duration(spec.minutes) * time.Minute
	var out []evalreport.Incident
	skipped := 0
	for n, p := range chosen {
		e := pods[p]
		room := minTime(e.last, closeBy).Sub(e.first) - dur
		if room < 0 {
			skipped++
			continue
		}
		start := e.first.Add(time.Duration(rng.Int64N(int64(room/time.Second)+1)) * time.Second)
		end := start.Add(dur)
		for k, s := range series {
			if k.pod == p {
				s.amplify(start, end, spec.factor)
			}
		}
		out = append(out, evalreport.Incident{
			Namespace: p.namespace, Pod: p.pod, Start: start, End: end, Kind: spec.kind,
			Origin: fmt.Sprintf("inject %s #%d", spec.raw, n+1),
		})
	}
	return out, skipped
}

// amplify multiplies the increase of every point in [start, end) by factor. A cumulative
// series keeps an offset that carries the extra bytes into every later value, so the counter
// stays monotonic and only the attacked increases change; a counter reset drops the offset, as
// the reset drops the counter, and its own point is left alone so the reset still reads as one.
func (s *injSeries) amplify(start, end time.Time, factor float64) {
	slices.SortStableFunc(s.pts, func(a, b pmetric.NumberDataPoint) int { return a.Timestamp().AsTime().Compare(b.Timestamp().AsTime()) })
	in := func(dp pmetric.NumberDataPoint) bool {
		t := dp.Timestamp().AsTime()
		return !t.Before(start) && t.Before(end)
	}
	if s.typ != cumulativePoint { // a gauge or delta point is its span's value already
		for _, dp := range s.pts {
			if in(dp) {
				setValue(dp, value(dp)*factor)
			}
		}
		return
	}
	var prev float64
	var prevStart pcommon.Timestamp
	offset := 0.0
	for i, dp := range s.pts {
		v := value(dp)
		inc := 0.0
		switch {
		case i == 0: // the first point only primes the series
		case v < prev || dp.StartTimestamp() != prevStart:
			offset = 0
		default:
			inc = v - prev
		}
		prev, prevStart = v, dp.StartTimestamp()
		if in(dp) {
			offset += (factor - 1) * inc
		}
		if offset != 0 {
			setValue(dp, v+offset)
		}
	}
}

func value(dp pmetric.NumberDataPoint) float64 {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		return float64(dp.IntValue())
	}
	return dp.DoubleValue()
}

func setValue(dp pmetric.NumberDataPoint, v float64) {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		dp.SetIntValue(int64(math.Round(v)))
		return
	}
	dp.SetDoubleValue(v)
}
