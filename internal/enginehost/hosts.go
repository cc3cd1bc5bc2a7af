package enginehost // import "github.com/k8snetio/k8snetioanomaly/internal/enginehost"

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Hosts gives the instances of one component, a processor's per pipeline, one engine; a factory
// holds one. Keyed by config value, as core's and contrib's shared components are: a reload
// builds new configs, so it gets fresh engines even when an old one was never shut down.
type Hosts struct {
	m sharedMap[component.Config, *engineHost]
}

// Join returns an instance of the engine for cfg, building the engine with the first instance.
func (hs *Hosts) Join(set component.TelemetrySettings, id component.ID, cfg component.Config, spec Spec, feeds bool, next consumer.Logs) (*Instance, error) {
	return join(&hs.m, cfg, withoutPipeline(set), id, spec, feeds, next)
}

// Len returns the number of live engines.
func (hs *Hosts) Len() int { return hs.m.len() }

// NewInstance returns the only instance of an engine of its own: the connector's, which the
// collector creates once per ID, fed by all its metrics pipelines.
func NewInstance(set component.TelemetrySettings, id component.ID, spec Spec, next consumer.Logs) (*Instance, error) {
	var own sharedMap[struct{}, *engineHost]
	return join(&own, struct{}{}, set, id, spec, true, next)
}

// pipelineAttributes are the attributes that differ between the instances of one processor ID.
var pipelineAttributes = []string{"otelcol.signal", "otelcol.pipeline.id"}

// withoutPipeline keeps the shared engine's telemetry from naming the pipeline whose instance
// came first. The public API (v0.145.0) has no way; like core's memory_limiter, this asserts the
// DropInjectedAttributes method of the service's wrappers (service/internal/componentattribute).
func withoutPipeline(set component.TelemetrySettings) component.TelemetrySettings {
	set.Logger = set.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		if d, ok := c.(interface {
			DropInjectedAttributes(...string) zapcore.Core
		}); ok {
			return d.DropInjectedAttributes(pipelineAttributes...)
		}
		return c
	}))
	if d, ok := set.MeterProvider.(interface {
		DropInjectedAttributes(...string) metric.MeterProvider
	}); ok {
		set.MeterProvider = d.DropInjectedAttributes(pipelineAttributes...)
	}
	if d, ok := set.TracerProvider.(interface {
		DropInjectedAttributes(...string) trace.TracerProvider
	}); ok {
		set.TracerProvider = d.DropInjectedAttributes(pipelineAttributes...)
	}
	return set
}
