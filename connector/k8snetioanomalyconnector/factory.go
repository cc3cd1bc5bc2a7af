package k8snetioanomalyconnector // import "github.com/k8snetio/k8snetioanomaly/connector/k8snetioanomalyconnector"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/k8snetio/k8snetioanomaly/connector/k8snetioanomalyconnector/internal/metadata"
	"github.com/k8snetio/k8snetioanomaly/internal/engine"
	"github.com/k8snetio/k8snetioanomaly/internal/enginehost"
)

// NewFactory returns the k8s_netio_anomaly connector factory: metrics in, anomaly events out as logs.
func NewFactory() connector.Factory {
	return connector.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		connector.WithMetricsToLogs(createMetricsToLogs, metadata.MetricsToLogsStability),
	)
}

// createMetricsToLogs needs no sharing: the collector makes one metrics-to-logs instance per
// connector ID, fed by all its metrics pipelines and fanning out to all its logs pipelines.
func createMetricsToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Metrics, error) {
	in, err := enginehost.NewInstance(set.TelemetrySettings, set.ID, enginehost.Spec{
		Kind:      component.KindConnector,
		Config:    cfg.(*Config).engineConfig,
		Telemetry: newTelemetry,
	}, next)
	if err != nil {
		return nil, err
	}
	return &metricsToLogs{Instance: in}, nil
}

// metricsToLogs feeds the engine; the engine's events go to the logs consumer.
type metricsToLogs struct {
	*enginehost.Instance // Start, Shutdown
}

func (*metricsToLogs) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (c *metricsToLogs) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	c.Engine().ConsumeMetrics(ctx, md)
	return nil
}

// newTelemetry fills the engine's instruments from this component's generated builder, whose meter
// is named after this component. The processor's is the same list from its own builder: Go reaches
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
	}}, tb.Shutdown, nil
}
