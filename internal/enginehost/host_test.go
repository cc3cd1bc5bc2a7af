package enginehost

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
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

func nopTelemetry(component.TelemetrySettings) (engine.Telemetry, func(), error) {
	return engine.Telemetry{}, func() {}, nil
}

func feedGolden(t *testing.T, e *engine.Engine) {
	md, err := golden.ReadMetrics(goldenInputFile)
	require.NoError(t, err)
	e.ConsumeMetrics(context.Background(), md)
}

// A processor listed in two logs pipelines passes each event into both.
func TestEventsGoToEveryLogsInstance(t *testing.T) {
	id := component.MustNewID("k8s_netio_anomaly")
	h, err := New(componenttest.NewNopTelemetrySettings(), id, Spec{Kind: component.KindProcessor, Config: goldenConfig(t), Telemetry: nopTelemetry})
	require.NoError(t, err)
	feeder, ok := h.Join(true, nil)
	require.True(t, ok)
	sinks := []*consumertest.LogsSink{new(consumertest.LogsSink), new(consumertest.LogsSink)}
	var logs []*Instance
	for _, s := range sinks {
		in, ok := h.Join(false, s)
		require.True(t, ok)
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
	require.NoError(t, logs[1].Shutdown(context.Background()))
	_, ok = h.Join(true, nil)
	assert.False(t, ok, "a host that has shut down takes no instances")
}

func TestLearningStateInStorage(t *testing.T) {
	dir := t.TempDir()
	cfg := goldenConfig(t)
	cfg.Learn = engine.LearnConfig{
		Enabled: true, Path: filepath.Join(dir, "learned.csv"), WriteInterval: 3600e9, Days: 30,
		Storage: "file_storage/learn",
	}
	require.NoError(t, cfg.Validate())
	ext := &memStorage{}
	host := extensionsHost{component.MustNewIDWithName("file_storage", "learn"): ext}
	id := component.MustNewID("k8s_netio_anomaly")

	h, err := New(componenttest.NewNopTelemetrySettings(), id, Spec{Kind: component.KindConnector, Config: cfg, Telemetry: nopTelemetry})
	require.NoError(t, err)
	in, _ := h.Join(true, nil)
	require.NoError(t, in.Start(context.Background(), host))
	feedGolden(t, in.Engine())
	require.NoError(t, in.Shutdown(context.Background()))

	assert.Equal(t, []string{"connector k8s_netio_anomaly learn"}, ext.clients, "one client, named after the component")
	assert.True(t, ext.closed, "the client is closed after the engine's last save")
	assert.NotEmpty(t, ext.get(learnStateKey))
	learned, err := os.ReadFile(cfg.Learn.Path)
	require.NoError(t, err)
	assert.Contains(t, string(learned), "prod:web,")

	// The next start restores what was saved.
	core, observed := observer.New(zapcore.InfoLevel)
	set := componenttest.NewNopTelemetrySettings()
	set.Logger = zap.New(core)
	h, err = New(set, id, Spec{Kind: component.KindConnector, Config: cfg, Telemetry: nopTelemetry})
	require.NoError(t, err)
	in, _ = h.Join(true, nil)
	require.NoError(t, in.Start(context.Background(), host))
	require.NoError(t, in.Shutdown(context.Background()))
	restored := observed.FilterMessage("Learning state restored").All()
	require.Len(t, restored, 1)
	assert.Equal(t, int64(1), restored[0].ContextMap()["days"], "one UTC day of data")
}

func TestLearningStorageMissing(t *testing.T) {
	cfg := goldenConfig(t)
	cfg.Learn = engine.LearnConfig{Enabled: true, Path: filepath.Join(t.TempDir(), "learned.csv"), WriteInterval: 3600e9, Days: 30, Storage: "file_storage"}
	for name, host := range map[string]component.Host{
		"not configured":       extensionsHost{},
		"not a storage at all": extensionsHost{component.MustNewID("file_storage"): struct{ component.Component }{}},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := New(componenttest.NewNopTelemetrySettings(), component.MustNewID("k8s_netio_anomaly"),
				Spec{Kind: component.KindProcessor, Config: cfg, Telemetry: nopTelemetry})
			require.NoError(t, err)
			in, _ := h.Join(true, nil)
			err = in.Start(context.Background(), host)
			require.ErrorContains(t, err, `learn.storage: `)
			assert.ErrorContains(t, err, `"file_storage"`)
			require.NoError(t, in.Shutdown(context.Background()))
		})
	}
}

type extensionsHost map[component.ID]component.Component

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h }

// memStorage is a storage extension that keeps its data in memory.
type memStorage struct {
	component.StartFunc
	component.ShutdownFunc

	mu      sync.Mutex
	data    map[string][]byte
	clients []string
	closed  bool
}

func (m *memStorage) GetClient(_ context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clients = append(m.clients, strings.ToLower(kind.String())+" "+id.String()+" "+name)
	m.closed = false
	return memClient{m}, nil
}

func (m *memStorage) get(key string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data[key]
}

type memClient struct{ m *memStorage }

func (c memClient) Get(_ context.Context, key string) ([]byte, error) { return c.m.get(key), nil }

func (c memClient) Set(_ context.Context, key string, value []byte) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.m.data == nil {
		c.m.data = map[string][]byte{}
	}
	c.m.data[key] = value
	return nil
}

func (c memClient) Delete(_ context.Context, key string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	delete(c.m.data, key)
	return nil
}

func (memClient) Batch(context.Context, ...*storage.Operation) error { panic("not used") }

func (c memClient) Close(context.Context) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.m.closed = true
	return nil
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
			h, err := New(set, component.MustNewID("k8s_netio_anomaly"), Spec{Kind: component.KindProcessor, Config: goldenConfig(t), Telemetry: nopTelemetry})
			require.NoError(t, err)
			feeder, _ := h.Join(true, nil)
			sink := new(consumertest.LogsSink)
			logs, _ := h.Join(false, sink)
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
