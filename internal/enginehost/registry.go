package enginehost // import "github.com/k8snetio/k8snetioanomaly/internal/enginehost"

import (
	"errors"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Registry gives the instances of one component ID one host: the collector creates a processor
// once per pipeline it is listed in, and the metrics and logs instances must share the engine.
// A factory holds one; an entry lives from its ID's first instance to its last shutdown, so
// nothing outlives a collector reload.
type Registry struct {
	mu    sync.Mutex
	hosts map[component.ID]registered
}

type registered struct {
	cfg  component.Config // the collector passes one config value to every instance of an ID
	host *Host
}

// Join returns an instance of the host for set.ID, building the host with the first instance.
func (r *Registry) Join(set component.TelemetrySettings, id component.ID, cfg component.Config, spec Spec, feeds bool, next consumer.Logs) (*Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.hosts[id]; ok {
		// Another config value means a host left over from a collector build that never shut it down.
		if e.cfg == cfg {
			in, err := e.host.Join(feeds, next)
			if !errors.Is(err, errDone) {
				return in, err
			}
		}
		delete(r.hosts, id)
	}
	h, err := New(sharedTelemetry(set), id, spec)
	if err != nil {
		return nil, err
	}
	h.onDone = r.forget
	if r.hosts == nil {
		r.hosts = map[component.ID]registered{}
	}
	r.hosts[id] = registered{cfg: cfg, host: h}
	return h.Join(feeds, next) // a new host takes its first instance
}

// Len returns the number of live hosts.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hosts)
}

func (r *Registry) forget(h *Host) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.hosts[h.id]; ok && e.host == h {
		delete(r.hosts, h.id)
	}
}

// The collector injects its pipeline's attributes into each instance's telemetry through
// wrappers that can drop them again (core's memory_limiter does this for its shared instance);
// these interfaces reach that method without importing the collector's internal packages.
type (
	attributeDroppingCore interface {
		DropInjectedAttributes(droppedAttrs ...string) zapcore.Core
	}
	attributeDroppingMeterProvider interface {
		DropInjectedAttributes(droppedAttrs ...string) metric.MeterProvider
	}
	attributeDroppingTracerProvider interface {
		DropInjectedAttributes(droppedAttrs ...string) trace.TracerProvider
	}
)

// pipelineAttributes are the attributes that differ between the instances of one processor ID.
var pipelineAttributes = []string{"otelcol.signal", "otelcol.pipeline.id"}

// sharedTelemetry makes one engine's logs and metrics independent of which pipeline's instance
// happened to be created first.
func sharedTelemetry(set component.TelemetrySettings) component.TelemetrySettings {
	set.Logger = set.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		if d, ok := c.(attributeDroppingCore); ok {
			return d.DropInjectedAttributes(pipelineAttributes...)
		}
		return c
	}))
	if d, ok := set.MeterProvider.(attributeDroppingMeterProvider); ok {
		set.MeterProvider = d.DropInjectedAttributes(pipelineAttributes...)
	}
	if d, ok := set.TracerProvider.(attributeDroppingTracerProvider); ok {
		set.TracerProvider = d.DropInjectedAttributes(pipelineAttributes...)
	}
	return set
}
