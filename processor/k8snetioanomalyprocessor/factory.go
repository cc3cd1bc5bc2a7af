package k8snetioanomalyprocessor // import "github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor"

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
	"github.com/k8snetio/k8snetioanomaly/internal/enginehost"
	"github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor/internal/metadata"
)

// factory holds the engines: one per component ID, shared by the ID's metrics and logs instances.
type factory struct {
	hosts enginehost.Hosts
}

// NewFactory returns the k8s_netio_anomaly processor factory.
func NewFactory() processor.Factory {
	return newFactory().processorFactory()
}

func newFactory() *factory { return &factory{} }

func (f *factory) processorFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		processor.WithMetrics(f.createMetrics, metadata.MetricsStability),
		processor.WithLogs(f.createLogs, metadata.LogsStability),
	)
}

func (f *factory) createMetrics(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	in, err := f.join(set, cfg, true, nil)
	if err != nil {
		return nil, err
	}
	return newMetricsProcessor(next, in), nil
}

func (f *factory) createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	in, err := f.join(set, cfg, false, next)
	if err != nil {
		return nil, err
	}
	p, err := newLogsProcessor(ctx, set, cfg, next, in)
	if err != nil {
		_ = in.Shutdown(ctx)
		return nil, err
	}
	return p, nil
}

func (f *factory) join(set processor.Settings, cfg component.Config, feeds bool, next consumer.Logs) (*enginehost.Instance, error) {
	spec := enginehost.Spec{
		Kind:           component.KindProcessor,
		Config:         cfg.(*Config).engineConfig,
		Telemetry:      newTelemetry,
		NoLogsWarning:  noLogsWarning,
		EventQueueSize: cfg.(*Config).EventQueueSize,
	}
	return f.hosts.Join(set.TelemetrySettings, set.ID, cfg, spec, feeds, next)
}

func noLogsWarning(id component.ID) string {
	return fmt.Sprintf("The %s processor is in no logs pipeline, so its anomaly events are only written to the collector's log. "+
		"To send them on, list %s in a logs pipeline too (for example receivers: [nop], processors: [%s], exporters: [splunk_hec]), "+
		"or use the k8s_netio_anomaly connector from the metrics pipeline to a logs pipeline instead.", id, id, id)
}

// newTelemetry fills the engine's instruments from this component's generated builder, whose meter
// is named after this component. The connector's is the same list from its own builder: Go reaches
// same-named fields of two generated types only by reflection.
func newTelemetry(set component.TelemetrySettings) (enginehost.Telemetry, func(), error) {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return enginehost.Telemetry{}, nil, err
	}
	return enginehost.Telemetry{Engine: engine.Telemetry{
		DatapointsUsed:         tb.K8sNetioAnomalyDatapointsUsed,
		DatapointsDropped:      tb.K8sNetioAnomalyDatapointsDropped,
		SpansScored:            tb.K8sNetioAnomalySpansScored,
		SpansAnomalous:         tb.K8sNetioAnomalySpansAnomalous,
		EventsEmitted:          tb.K8sNetioAnomalyEventsEmitted,
		PodsTracked:            tb.K8sNetioAnomalyPodsTracked,
		BaselineKeys:           tb.K8sNetioAnomalyBaselineKeys,
		BaselineReloadFailures: tb.K8sNetioAnomalyBaselineReloadFailures,
		LearnWriteFailures:     tb.K8sNetioAnomalyLearnWriteFailures,
		StateEntriesSkipped:    tb.K8sNetioAnomalyStateEntriesSkipped,
	}, EventsDropped: tb.K8sNetioAnomalyEventsDropped}, tb.Shutdown, nil
}
