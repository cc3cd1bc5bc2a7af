package enginehost_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/featuregate"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/service/telemetry"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"

	"github.com/k8snetio/k8snetioanomaly/connector/k8snetioanomalyconnector"
	"github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor"
)

// The processor's golden case: seven kubeletstats scrapes that make one event for window
// [W, W+60s) (see the derivation in the processor's tests). With lateness 30s the last scrape
// does not close the window, so the event is made by the collector's shutdown.
var (
	goldenDir    = filepath.Join("..", "..", "processor", "k8snetioanomalyprocessor", "testdata", "kubeletstats_window")
	goldenInput  = filepath.Join(goldenDir, "input.yaml")
	goldenEvents = filepath.Join(goldenDir, "expected_logs.yaml")
)

func TestCollectorProcessorInBothPipelines(t *testing.T) {
	h := newHarness(t)
	col := h.run(t, filepath.Join("testdata", "processor_both_pipelines.yaml"))
	md := readMetrics(t, goldenInput)
	require.NoError(t, h.feed(context.Background(), md))
	assert.Zero(t, h.logs.LogRecordCount(), "the window is still open")
	h.stop(t, col)

	require.Len(t, h.metrics.AllMetrics(), 1)
	require.NoError(t, pmetrictest.CompareMetrics(readMetrics(t, goldenInput), h.metrics.AllMetrics()[0]), "metrics pass unchanged")
	expected, err := golden.ReadLogs(goldenEvents)
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(expected, merge(h.logs.AllLogs()), plogtest.IgnoreObservedTimestamp()),
		"the event made at shutdown reaches the logs exporter through the logs instance")
	assert.Zero(t, h.observed.FilterMessageSnippet("is in no logs pipeline").Len())
	assert.Zero(t, h.observed.FilterFieldKey("event").Len(), "no event fell back to the collector's log")
}

func TestCollectorProcessorMetricsPipelineOnly(t *testing.T) {
	h := newHarness(t)
	col := h.run(t, filepath.Join("testdata", "processor_metrics_only.yaml"))
	require.NoError(t, h.feed(context.Background(), readMetrics(t, goldenInput)))
	h.stop(t, col)

	warnings := h.observed.FilterMessageSnippet("is in no logs pipeline").All()
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0].Message, "list k8s_netio_anomaly in a logs pipeline")
	events := h.observed.FilterLevelExact(zapcore.WarnLevel).FilterFieldKey("event").All()
	require.Len(t, events, 1, "the event is in the collector's log")
	assert.Equal(t, "web-7c5ddbdf54-x8f2k", events[0].ContextMap()["event"].(map[string]any)["k8s.pod.name"])
}

func TestCollectorConnector(t *testing.T) {
	h := newHarness(t)
	col := h.run(t, filepath.Join("testdata", "connector.yaml"))
	require.NoError(t, h.feed(context.Background(), readMetrics(t, goldenInput)))
	h.stop(t, col)

	expected, err := golden.ReadLogs(goldenEvents)
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(expected, merge(h.logs.AllLogs()), plogtest.IgnoreObservedTimestamp()))
}

func TestCollectorRefusesBrokenBaseline(t *testing.T) {
	for _, tc := range []struct{ name, config, override string }{
		{"processor", "processor_both_pipelines.yaml", "yaml:processors::k8s_netio_anomaly::baseline::path: testdata/broken_baseline.csv"},
		{"connector", "connector.yaml", "yaml:connectors::k8s_netio_anomaly::baseline::path: testdata/broken_baseline.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			col, err := otelcol.NewCollector(h.settings(filepath.Join("testdata", tc.config), tc.override))
			require.NoError(t, err)
			err = col.Run(context.Background())
			// Line 3, column 4 of the file: a negative standard deviation.
			require.ErrorContains(t, err, "testdata/broken_baseline.csv:3:4: column \"stdev_inbound:outbound\": negative standard deviation -0.1")
		})
	}
}

// One receiver into two metrics pipelines that both list the processor: each point reaches the
// engine twice, and counts once (the golden event, not one with doubled or missing spans).
func TestCollectorProcessorInTwoMetricsPipelines(t *testing.T) {
	h := newHarness(t)
	col := h.run(t, filepath.Join("testdata", "processor_two_metrics_pipelines.yaml"))
	require.NoError(t, h.feed(context.Background(), readMetrics(t, goldenInput)))
	h.stop(t, col)
	expected, err := golden.ReadLogs(goldenEvents)
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(expected, merge(h.logs.AllLogs()), plogtest.IgnoreObservedTimestamp()))
	assert.Equal(t, 1, h.observed.FilterMessageSnippet("is in 2 metrics pipelines").Len())
}

// The collector adds the pipeline of the instance it creates to that instance's logger and meter;
// the engine, shared by the pipelines, must not report as the one whose instance came first.
func TestCollectorProcessorTelemetryNamesNoPipeline(t *testing.T) {
	// Pipeline attributes reach meters only behind this (alpha) gate; loggers get them always.
	const gate = "telemetry.newPipelineTelemetry"
	require.NoError(t, featuregate.GlobalRegistry().Set(gate, true))
	t.Cleanup(func() { require.NoError(t, featuregate.GlobalRegistry().Set(gate, false)) })
	h := newHarness(t)
	reader := sdkmetric.NewManualReader()
	h.meterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	col := h.run(t, filepath.Join("testdata", "processor_two_metrics_pipelines.yaml"))
	require.NoError(t, h.feed(context.Background(), readMetrics(t, goldenInput)))
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	h.stop(t, col)

	logged := h.observed.FilterMessageSnippet("is in 2 metrics pipelines").All()
	require.Len(t, logged, 1)
	fields := logged[0].ContextMap()
	assert.Equal(t, "k8s_netio_anomaly/x", fields["otelcol.component.id"], "the component's own attributes stay")
	assert.NotContains(t, fields, "otelcol.pipeline.id")
	assert.NotContains(t, fields, "otelcol.signal")

	var scopes int
	for _, sm := range rm.ScopeMetrics {
		if !strings.HasSuffix(sm.Scope.Name, "/k8snetioanomalyprocessor") {
			continue
		}
		scopes++
		id, _ := sm.Scope.Attributes.Value("otelcol.component.id")
		assert.Equal(t, "k8s_netio_anomaly/x", id.AsString())
		assert.False(t, sm.Scope.Attributes.HasValue("otelcol.pipeline.id"))
		assert.False(t, sm.Scope.Attributes.HasValue("otelcol.signal"))
	}
	assert.Equal(t, 1, scopes, "the engine's metrics, in one scope")
}

// harness runs a real collector with the processor and connector factories, a receiver the test
// feeds and an exporter that keeps what it gets.
type harness struct {
	metrics  *consumertest.MetricsSink
	logs     *consumertest.LogsSink
	observed *observer.ObservedLogs
	logger   *zap.Logger
	// meterProvider, when set, is the collector's; otherwise its telemetry has no meters.
	meterProvider *sdkmetric.MeterProvider

	mu         sync.Mutex
	next       consumer.Metrics
	exportDone bool // the logs exporter has shut down
	lateLogs   int  // records that arrived after that
	runErr     chan error
}

func newHarness(t *testing.T) *harness {
	core, observed := observer.New(zapcore.InfoLevel)
	return &harness{
		metrics:  new(consumertest.MetricsSink),
		logs:     new(consumertest.LogsSink),
		observed: observed,
		logger:   zap.New(core),
		runErr:   make(chan error, 1),
	}
}

func (h *harness) settings(uris ...string) otelcol.CollectorSettings {
	return otelcol.CollectorSettings{
		BuildInfo:               component.NewDefaultBuildInfo(),
		DisableGracefulShutdown: true,
		Factories:               h.factories,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{ResolverSettings: confmap.ResolverSettings{
			URIs:              uris,
			ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory(), yamlprovider.NewFactory()},
		}},
	}
}

func (h *harness) run(t *testing.T, uris ...string) *otelcol.Collector {
	t.Helper()
	col, err := otelcol.NewCollector(h.settings(uris...))
	require.NoError(t, err)
	go func() { h.runErr <- col.Run(context.Background()) }()
	require.Eventually(t, func() bool {
		select {
		case err := <-h.runErr:
			h.runErr <- err
			return true
		default:
			return col.GetState() == otelcol.StateRunning
		}
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, otelcol.StateRunning, col.GetState())
	return col
}

func (h *harness) stop(t *testing.T, col *otelcol.Collector) {
	t.Helper()
	col.Shutdown()
	select {
	case err := <-h.runErr:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the collector did not stop")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Zero(t, h.lateLogs, "no record may reach the logs exporter after its shutdown")
}

func (h *harness) feed(ctx context.Context, md pmetric.Metrics) error {
	h.mu.Lock()
	next := h.next
	h.mu.Unlock()
	if next == nil {
		return errors.New("no pipeline holds the feed receiver")
	}
	return next.ConsumeMetrics(ctx, md)
}

func (h *harness) factories() (otelcol.Factories, error) {
	var f otelcol.Factories
	var err error
	if f.Receivers, err = otelcol.MakeFactoryMap(h.feedFactory(), receivertest.NewNopFactory()); err != nil {
		return f, err
	}
	if f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](k8snetioanomalyprocessor.NewFactory()); err != nil {
		return f, err
	}
	if f.Connectors, err = otelcol.MakeFactoryMap[connector.Factory](k8snetioanomalyconnector.NewFactory()); err != nil {
		return f, err
	}
	if f.Exporters, err = otelcol.MakeFactoryMap(h.captureFactory()); err != nil {
		return f, err
	}
	opts := []telemetry.FactoryOption{
		telemetry.WithCreateLogger(func(context.Context, telemetry.LoggerSettings, component.Config) (*zap.Logger, component.ShutdownFunc, error) {
			return h.logger, nil, nil
		}),
	}
	if h.meterProvider != nil {
		opts = append(opts, telemetry.WithCreateMeterProvider(func(context.Context, telemetry.MeterSettings, component.Config) (telemetry.MeterProvider, error) {
			return h.meterProvider, nil
		}))
	}
	f.Telemetry = telemetry.NewFactory(func() component.Config { return &struct{}{} }, opts...)
	return f, nil
}

type empty struct{}

func (h *harness) feedFactory() receiver.Factory {
	return receiver.NewFactory(component.MustNewType("feed"), func() component.Config { return &empty{} },
		receiver.WithMetrics(func(_ context.Context, _ receiver.Settings, _ component.Config, next consumer.Metrics) (receiver.Metrics, error) {
			h.mu.Lock()
			h.next = next
			h.mu.Unlock()
			return nopComponent{}, nil
		}, component.StabilityLevelDevelopment))
}

func (h *harness) captureFactory() exporter.Factory {
	return exporter.NewFactory(component.MustNewType("capture"), func() component.Config { return &empty{} },
		exporter.WithMetrics(func(context.Context, exporter.Settings, component.Config) (exporter.Metrics, error) {
			return struct {
				nopComponent
				consumer.Metrics
			}{Metrics: h.metrics}, nil
		}, component.StabilityLevelDevelopment),
		exporter.WithLogs(func(context.Context, exporter.Settings, component.Config) (exporter.Logs, error) {
			return &captureLogs{h: h}, nil
		}, component.StabilityLevelDevelopment))
}

type nopComponent struct{}

func (nopComponent) Start(context.Context, component.Host) error { return nil }
func (nopComponent) Shutdown(context.Context) error              { return nil }

// captureLogs notes records that arrive after its shutdown, which would be lost in a real exporter.
type captureLogs struct {
	nopComponent
	h *harness
}

func (c *captureLogs) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (c *captureLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	c.h.mu.Lock()
	if c.h.exportDone {
		c.h.lateLogs += ld.LogRecordCount()
	}
	c.h.mu.Unlock()
	return c.h.logs.ConsumeLogs(ctx, ld)
}

func (c *captureLogs) Shutdown(context.Context) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	c.h.exportDone = true
	return nil
}

func readMetrics(t *testing.T, path string) pmetric.Metrics {
	t.Helper()
	md, err := golden.ReadMetrics(path)
	require.NoError(t, err)
	return md
}

func merge(all []plog.Logs) plog.Logs {
	out := plog.NewLogs()
	for _, ld := range all {
		ld.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
	}
	return out
}
