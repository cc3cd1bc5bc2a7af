package k8snetioanomalyconnector

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"

	"github.com/k8snetio/k8snetioanomaly/connector/k8snetioanomalyconnector/internal/metadata"
	"github.com/k8snetio/k8snetioanomaly/connector/k8snetioanomalyconnector/internal/metadatatest"
	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	defaults := engine.DefaultConfig()
	defaults.Baseline.Path = "testdata/baseline.csv"
	immediate := defaults
	immediate.Mode = engine.ModeImmediate
	immediate.Window = 10 * time.Minute
	immediate.CountThreshold = 2
	immediate.ClusterName = "dev"
	immediate.Event.Index = "k8s_security"

	tests := []struct {
		name     string
		expected engine.Config
		wantErr  string
	}{
		{name: "", expected: defaults},
		{name: "immediate", expected: immediate},
		{name: "bad_mode", wantErr: `mode: must be "window" or "immediate", got "hourly"`},
	}
	for _, tt := range tests {
		id := component.NewIDWithName(metadata.Type, tt.name)
		t.Run(id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = xconfmap.Validate(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.NotContains(t, err.Error(), "\n", "reported once")
				assert.True(t, strings.HasPrefix(err.Error(), tt.wantErr), "got %q, want it to start with %q", err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, &Config{engineConfig: tt.expected}, cfg)
		})
	}
}

// The delta_immediate case, derived by hand. testdata/baseline.csv scores the volumes of
// dev:fluentd: inbound flags above 1000 + 4*250 = 2000, outbound above 50000 + 4*5000 = 70000.
// input.yaml: four delta scrapes of fluentd-x8f2k (service fluentd; node node-7 from host.name)
// at W+5s ... W+35s, W = 1700000400; a delta is an increase already, so each scrape is its span:
//
//	span 0: in 1000, out 80000 -> outbound z = 30000/5000 = 6
//	span 1: in 3000, out 90000 -> inbound z = 2000/250 = 8 and outbound z = 40000/5000 = 8,
//	        one text joined by ", " in the file's stdev_ column order (inbound first)
//	span 2: in 1000, out 75000 -> outbound z = 5: the third anomalous span, count 3 > 2
//	span 3: in 1000, out 50000 -> nothing
//
// Span 2 is scored when span 3's first point arrives; in immediate mode the event leaves then,
// stamped with span 2's start (W+20), window [W, W+60), max_zscore 8 and 8, and the texts in
// byte order ("inbound..." < "...by 5" < "...by 6"). The index comes from config.yaml.
func TestGolden(t *testing.T) {
	dir := filepath.Join("testdata", "delta_immediate")
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	sink := new(consumertest.LogsSink)
	c := newConnector(t, metadatatest.NewSettings(tt), loadCaseConfig(t, dir), sink)

	md := readMetrics(t, filepath.Join(dir, "input.yaml"))
	md.MarkReadOnly() // any write by the connector would panic
	require.NoError(t, c.ConsumeMetrics(context.Background(), md))
	require.Equal(t, 1, sink.LogRecordCount(), "immediate: out before the window closes")

	metadatatest.AssertEqualK8sNetioAnomalyDatapointsUsed(t, tt, []metricdata.DataPoint[int64]{{Value: 8}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualK8sNetioAnomalySpansScored(t, tt, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualK8sNetioAnomalySpansAnomalous(t, tt, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualK8sNetioAnomalyEventsEmitted(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualK8sNetioAnomalyPodsTracked(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualK8sNetioAnomalyBaselineKeys(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())

	require.NoError(t, c.Shutdown(context.Background()))
	// The shutdown completes span 3.
	metadatatest.AssertEqualK8sNetioAnomalySpansScored(t, tt, []metricdata.DataPoint[int64]{{Value: 4}}, metricdatatest.IgnoreTimestamp())
	expected, err := golden.ReadLogs(filepath.Join(dir, "expected_logs.yaml"))
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(expected, mergeLogs(sink.AllLogs()), plogtest.IgnoreObservedTimestamp()),
		"and no second event for the same pod and window at shutdown")
}

func TestShutdownFlushesClosedWindows(t *testing.T) {
	dir := filepath.Join("testdata", "delta_immediate")
	cfg := loadCaseConfig(t, dir)
	// Window mode, 30s windows, held back 30s: after the last scrape (W+35s) the watermark is
	// W+5s and nothing has closed; the shutdown completes the span up to W+40s, which closes
	// the window [W, W+30) holding spans 0, 1 and 2.
	cfg.Mode = engine.ModeWindow
	cfg.Window = 30 * time.Second
	cfg.Lateness = 30 * time.Second
	sink := new(consumertest.LogsSink)
	c := newConnector(t, connectortest.NewNopSettings(metadata.Type), cfg, sink)

	require.NoError(t, c.ConsumeMetrics(context.Background(), readMetrics(t, filepath.Join(dir, "input.yaml"))))
	require.Zero(t, sink.LogRecordCount())
	require.NoError(t, c.Shutdown(context.Background()))

	require.Equal(t, 1, sink.LogRecordCount())
	lr := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, int64(1700000430), lr.Timestamp().AsTime().Unix(), "the window end")
	body := lr.Body().Map().AsRaw()
	assert.Equal(t, int64(3), body["count"])
	assert.Equal(t, int64(1700000400), body["window_start"])
	assert.Equal(t, "fluentd-x8f2k", body["k8s.pod.name"])
}

func TestBrokenBaseline(t *testing.T) {
	cfg := loadCaseConfig(t, filepath.Join("testdata", "delta_immediate"))
	cfg.Baseline.Path = filepath.Join("testdata", "broken_baseline.csv")
	_, err := NewFactory().CreateMetricsToLogs(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, new(consumertest.LogsSink))
	// Line 2, column 2: avg_inbound_network_io is "lots".
	require.ErrorContains(t, err, "testdata/broken_baseline.csv:2:2:")
	assert.ErrorContains(t, err, `"lots" is not a number`)
}

// A failing logs pipeline is logged, never returned into the metrics pipeline.
func TestLogsErrorDoesNotFailMetrics(t *testing.T) {
	dir := filepath.Join("testdata", "delta_immediate")
	core, logs := observer.New(zapcore.InfoLevel)
	set := connectortest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	c := newConnector(t, set, loadCaseConfig(t, dir), consumertest.NewErr(assert.AnError))
	require.NoError(t, c.ConsumeMetrics(context.Background(), readMetrics(t, filepath.Join(dir, "input.yaml"))))
	require.NoError(t, c.Shutdown(context.Background()))

	failures := logs.FilterLevelExact(zapcore.ErrorLevel).All()
	require.Len(t, failures, 1)
	assert.Equal(t, assert.AnError.Error(), failures[0].ContextMap()["error"])
	// The event is in the log entry, so it is not lost.
	events, ok := failures[0].ContextMap()["events"].([]map[string]any)
	require.True(t, ok, "got %T", failures[0].ContextMap()["events"])
	require.Len(t, events, 1)
	assert.Equal(t, "fluentd-x8f2k", events[0]["k8s.pod.name"])
}

func newConnector(t *testing.T, set connector.Settings, cfg *Config, next consumer.Logs) connector.Metrics {
	t.Helper()
	c, err := NewFactory().CreateMetricsToLogs(context.Background(), set, cfg, next)
	require.NoError(t, err)
	assert.False(t, c.Capabilities().MutatesData)
	require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	return c
}

func loadCaseConfig(t *testing.T, dir string) *Config {
	t.Helper()
	cfg := createDefaultConfig()
	if _, err := os.Stat(filepath.Join(dir, "config.yaml")); err == nil {
		cm, err := confmaptest.LoadConf(filepath.Join(dir, "config.yaml"))
		require.NoError(t, err)
		require.NoError(t, cm.Unmarshal(cfg))
	}
	require.NoError(t, xconfmap.Validate(cfg))
	return cfg
}

func readMetrics(t *testing.T, path string) pmetric.Metrics {
	t.Helper()
	md, err := golden.ReadMetrics(path)
	require.NoError(t, err)
	return md
}

func mergeLogs(all []plog.Logs) plog.Logs {
	out := plog.NewLogs()
	for _, ld := range all {
		ld.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
	}
	return out
}
