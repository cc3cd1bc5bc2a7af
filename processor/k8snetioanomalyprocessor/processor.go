package k8snetioanomalyprocessor // import "github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
	"github.com/k8snetio/k8snetioanomaly/internal/enginehost"
)

// Neither instance touches what passes through, so the pipeline need not copy it for us.
var capabilities = consumer.Capabilities{MutatesData: false}

// newMetricsProcessor passes every metric on unchanged and lets the engine read them on the way.
// Not processorhelper: its item counts walk every batch twice more, and the collector already
// counts every processor's items (otelcol_processor_consumed_items, _produced_items).
func newMetricsProcessor(next consumer.Metrics, in *enginehost.Instance) processor.Metrics {
	return &metricsProcessor{StartFunc: in.Start, ShutdownFunc: in.Shutdown, eng: in.Engine(), next: next}
}

type metricsProcessor struct {
	component.StartFunc
	component.ShutdownFunc
	eng  *engine.Engine
	next consumer.Metrics
}

func (p *metricsProcessor) Capabilities() consumer.Capabilities { return capabilities }

func (p *metricsProcessor) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	p.eng.ConsumeMetrics(ctx, md)
	return p.next.ConsumeMetrics(ctx, md)
}

// newLogsProcessor passes its own logs on unchanged; the shared engine adds the anomaly events
// to the same next consumer.
func newLogsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs, in *enginehost.Instance) (processor.Logs, error) {
	return processorhelper.NewLogs(ctx, set, cfg, next,
		func(_ context.Context, ld plog.Logs) (plog.Logs, error) { return ld, nil },
		processorhelper.WithCapabilities(capabilities),
		processorhelper.WithStart(in.Start),
		processorhelper.WithShutdown(in.Shutdown))
}
