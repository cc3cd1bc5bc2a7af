package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

// counts collects the engine's own telemetry for the replay summary, which is what a back-test
// wants to see: how much of the input was usable and how much of it looked anomalous.
type counts struct {
	used, scored, anomalous int64
	dropped                 map[string]int64 // by the engine's "reason" attribute
}

func (c *counts) telemetry() engine.Telemetry {
	c.dropped = map[string]int64{}
	return engine.Telemetry{
		DatapointsUsed:    counter{n: &c.used},
		DatapointsDropped: reasonCounter{m: c.dropped},
		SpansScored:       counter{n: &c.scored},
		SpansAnomalous:    counter{n: &c.anomalous},
	}
}

// points says what became of the points of the detection's metric; the engine counts each one once.
func (c *counts) points(metric string) string {
	s := fmt.Sprintf("%s points: %d used, %d dropped", metric, c.used, sum(c.dropped))
	if len(c.dropped) == 0 {
		return s
	}
	var parts []string
	for _, reason := range slices.Sorted(maps.Keys(c.dropped)) {
		parts = append(parts, fmt.Sprintf("%s %d", reason, c.dropped[reason]))
	}
	return s + " (" + strings.Join(parts, ", ") + ")"
}

func sum(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

// counter adds into an int64; the engine records under its lock, and replay uses one goroutine.
type counter struct {
	noop.Int64Counter
	n *int64
}

func (c counter) Add(_ context.Context, incr int64, _ ...metric.AddOption) { *c.n += incr }

// reasonCounter keeps the drop counts apart by their reason attribute.
type reasonCounter struct {
	noop.Int64Counter
	m map[string]int64
}

func (c reasonCounter) Add(_ context.Context, incr int64, opts ...metric.AddOption) {
	attrs := metric.NewAddConfig(opts).Attributes()
	reason, _ := attrs.Value("reason")
	c.m[reason.AsString()] += incr
}
