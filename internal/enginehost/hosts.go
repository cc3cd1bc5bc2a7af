package enginehost // import "github.com/k8snetio/k8snetioanomaly/internal/enginehost"

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Hosts gives the instances of one component one engine: the collector creates a processor once
// per pipeline it is listed in, and its metrics and logs instances must share the engine. A factory
// holds one. The key is the component's config value, as in core's and contrib's shared
// components: the collector passes one to every instance of an ID and makes new ones for each
// build, so a reload gets fresh engines even when an old one was never shut down.
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

// withoutPipeline keeps the shared engine's logs and metrics from naming the pipeline whose
// instance happened to be created first. The collector's public API (v0.145.0) offers no way:
// core's memory_limiter uses DropInjectedAttributes from its internal/telemetry module, which
// asserts the method of that name on the wrappers the service puts around each instance's logger
// core and providers (service/internal/componentattribute); so do the assertions below.
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
