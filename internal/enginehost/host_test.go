package enginehost

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

// The processor's golden case makes one event for pod web-7c5ddbdf54-x8f2k in prod (see its tests).
var goldenInputFile = filepath.Join("..", "..", "processor", "k8snetioanomalyprocessor", "testdata", "kubeletstats_window", "input.yaml")

func goldenConfig(t *testing.T) engine.Config {
	cfg := engine.DefaultConfig()
	cfg.Window = 60e9
	cfg.CountThreshold = 3
	cfg.Lateness = 0
	cfg.IdleFlush = 0
	cfg.Baseline.Path = filepath.Join("testdata", "baseline.csv")
	cfg.Baseline.ReloadInterval = 0
	require.NoError(t, cfg.Validate())
	return cfg
}

func nopTelemetry(component.TelemetrySettings) (Telemetry, func(), error) {
	return Telemetry{}, func() {}, nil
}

// sharedEngine returns how the instances of one component ID join the engine they share.
func sharedEngine(t *testing.T, set component.TelemetrySettings, spec Spec) (*Hosts, func(feeds bool, next consumer.Logs) *Instance) {
	hosts, cfg := new(Hosts), new(int) // cfg stands for the ID's config value
	return hosts, func(feeds bool, next consumer.Logs) *Instance {
		in, err := hosts.Join(set, component.MustNewID("k8s_netio_anomaly"), cfg, spec, feeds, next)
		require.NoError(t, err)
		return in
	}
}

func feedGolden(t *testing.T, e *engine.Engine) {
	md, err := golden.ReadMetrics(goldenInputFile)
	require.NoError(t, err)
	e.ConsumeMetrics(context.Background(), md)
}

// A processor listed in two logs pipelines passes each event into both.
func TestEventsGoToEveryLogsInstance(t *testing.T) {
	hosts, join := sharedEngine(t, componenttest.NewNopTelemetrySettings(), Spec{Kind: component.KindProcessor, Config: goldenConfig(t), Telemetry: nopTelemetry})
	feeder := join(true, nil)
	sinks := []*consumertest.LogsSink{new(consumertest.LogsSink), new(consumertest.LogsSink)}
	var logs []*Instance
	for _, s := range sinks {
		in := join(false, s)
		require.NoError(t, in.Start(context.Background(), componenttest.NewNopHost()))
		logs = append(logs, in)
	}
	require.NoError(t, feeder.Start(context.Background(), componenttest.NewNopHost()))

	feedGolden(t, feeder.Engine())
	for _, s := range sinks {
		require.Equal(t, 1, s.LogRecordCount())
	}
	// Each consumer has its own copy, so one pipeline's changes cannot reach the other.
	assert.False(t, sinks[0].AllLogs()[0].ResourceLogs().At(0) == sinks[1].AllLogs()[0].ResourceLogs().At(0))

	require.NoError(t, logs[0].Shutdown(context.Background()))
	require.NoError(t, logs[0].Shutdown(context.Background()), "a second shutdown is harmless")
	require.NoError(t, feeder.Shutdown(context.Background()))
	assert.Equal(t, 1, hosts.Len(), "the engine stays while a logs instance is left")
	require.NoError(t, logs[1].Shutdown(context.Background()))
	assert.Zero(t, hosts.Len())
}

// Events made before the logs instance has started (a replay's first batch can make some) wait
// for it; if it never starts they go to the collector's log.
func TestEventsBeforeLogsInstanceStarts(t *testing.T) {
	for _, starts := range []bool{true, false} {
		name := "then it starts"
		if !starts {
			name = "and it never starts"
		}
		t.Run(name, func(t *testing.T) {
			core, observed := observer.New(zapcore.WarnLevel)
			set := componenttest.NewNopTelemetrySettings()
			set.Logger = zap.New(core)
			_, join := sharedEngine(t, set, Spec{Kind: component.KindProcessor, Config: goldenConfig(t), Telemetry: nopTelemetry})
			feeder := join(true, nil)
			sink := new(consumertest.LogsSink)
			logs := join(false, sink)
			require.NoError(t, feeder.Start(context.Background(), componenttest.NewNopHost()))

			feedGolden(t, feeder.Engine())
			require.Zero(t, sink.LogRecordCount())
			require.Zero(t, observed.FilterFieldKey("event").Len(), "held, not logged")

			if starts {
				require.NoError(t, logs.Start(context.Background(), componenttest.NewNopHost()))
				assert.Equal(t, 1, sink.LogRecordCount())
			}
			require.NoError(t, logs.Shutdown(context.Background()))
			require.NoError(t, feeder.Shutdown(context.Background()))
			if starts {
				assert.Zero(t, observed.FilterFieldKey("event").Len())
			} else {
				assert.Zero(t, sink.LogRecordCount())
				assert.Equal(t, 1, observed.FilterFieldKey("event").Len())
			}
		})
	}
}

// With the event queue, events made before anything started wait in the queue; when the
// collector gives up before starting, the shutdown still hands them on (here: to the log).
func TestQueuedEventsWithoutStart(t *testing.T) {
	core, observed := observer.New(zapcore.WarnLevel)
	set := componenttest.NewNopTelemetrySettings()
	set.Logger = zap.New(core)
	_, join := sharedEngine(t, set, Spec{Kind: component.KindProcessor, Config: goldenConfig(t), Telemetry: nopTelemetry, EventQueueSize: 10})
	feeder := join(true, nil)
	sink := new(consumertest.LogsSink)
	logs := join(false, sink)

	feedGolden(t, feeder.Engine())
	assert.Zero(t, observed.FilterFieldKey("event").Len(), "queued, not logged yet")
	require.NoError(t, feeder.Shutdown(context.Background()))
	require.NoError(t, logs.Shutdown(context.Background()))
	assert.Zero(t, sink.LogRecordCount(), "a consumer that never started is never called")
	assert.Equal(t, 1, observed.FilterFieldKey("event").Len())
}
