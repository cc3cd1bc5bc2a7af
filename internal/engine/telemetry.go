package engine

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Telemetry holds the component's own instruments; the collector faces fill it from mdatagen's
// builder, and a nil instrument records nothing.
type Telemetry struct {
	DatapointsUsed         metric.Int64Counter
	DatapointsDropped      metric.Int64Counter // attribute "reason"
	SpansScored            metric.Int64Counter
	SpansAnomalous         metric.Int64Counter
	EventsEmitted          metric.Int64Counter
	PodsTracked            metric.Int64Gauge
	BaselineKeys           metric.Int64Gauge
	BaselineReloadFailures metric.Int64Counter
	LearnWriteFailures     metric.Int64Counter
	// StateEntriesSkipped counts saved state entries that could not be restored.
	StateEntriesSkipped metric.Int64Counter
}

// DropReason says why a data point could not be used by the detection.
type DropReason uint8

const (
	DropNoPodName DropReason = iota
	DropNoCluster
	DropNoNode
	DropUnknownDirection
	DropNotFinite
	DropNegative
	DropLate
	DropPodLimit
	DropExcluded
	DropUnsupportedType
	DropFuture
	DropInvalidName
	DropSeriesLimit
	DropDuplicate
	DropReorderLimit
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	DropNoPodName:        "no_pod_name",
	DropNoCluster:        "no_cluster",
	DropNoNode:           "no_node",
	DropUnknownDirection: "unknown_direction",
	DropNotFinite:        "not_finite",
	DropNegative:         "negative",
	DropLate:             "late",
	DropPodLimit:         "pod_limit",
	DropExcluded:         "excluded",
	DropUnsupportedType:  "unsupported_type",
	DropFuture:           "future",
	DropInvalidName:      "invalid_name",
	DropSeriesLimit:      "series_limit",
	DropDuplicate:        "duplicate",
	DropReorderLimit:     "reorder_limit",
}

func (r DropReason) String() string { return dropReasonNames[r] }

// dropAttrs are built once so that recording a drop allocates nothing.
var dropAttrs = func() (out [numDropReasons]metric.AddOption) {
	for i := range out {
		out[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", DropReason(i).String())))
	}
	return out
}()

func (t Telemetry) withDefaults() Telemetry {
	m := noop.Meter{}
	counter := func(c *metric.Int64Counter) {
		if *c == nil {
			*c, _ = m.Int64Counter("noop")
		}
	}
	gauge := func(g *metric.Int64Gauge) {
		if *g == nil {
			*g, _ = m.Int64Gauge("noop")
		}
	}
	counter(&t.DatapointsUsed)
	counter(&t.DatapointsDropped)
	counter(&t.SpansScored)
	counter(&t.SpansAnomalous)
	counter(&t.EventsEmitted)
	gauge(&t.PodsTracked)
	gauge(&t.BaselineKeys)
	counter(&t.BaselineReloadFailures)
	counter(&t.LearnWriteFailures)
	counter(&t.StateEntriesSkipped)
	return t
}

// tally counts one batch's outcomes so that instruments are touched once per batch, not per point.
type tally struct {
	used, scored, anomalous int64
	dropped                 [numDropReasons]int64
}

func (t *tally) drop(r DropReason) { t.dropped[r]++ }

func (t *tally) record(ctx context.Context, tel *Telemetry) {
	if t.used > 0 {
		tel.DatapointsUsed.Add(ctx, t.used)
	}
	for r, n := range t.dropped {
		if n > 0 {
			tel.DatapointsDropped.Add(ctx, n, dropAttrs[r])
		}
	}
	if t.scored > 0 {
		tel.SpansScored.Add(ctx, t.scored)
	}
	if t.anomalous > 0 {
		tel.SpansAnomalous.Add(ctx, t.anomalous)
	}
	*t = tally{}
}
