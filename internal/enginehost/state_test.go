package enginehost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

// With the top-level storage key the host binds the extension whether or not it learns.
func TestStorageBoundWithoutLearning(t *testing.T) {
	cfg := goldenConfig(t)
	cfg.Storage = "file_storage/state"
	require.NoError(t, cfg.Validate())
	ext := &memStorage{}
	host := extensionsHost{component.MustNewIDWithName("file_storage", "state"): ext}

	in, err := NewInstance(componenttest.NewNopTelemetrySettings(), component.MustNewID("k8s_netio_anomaly"), Spec{Kind: component.KindProcessor, Config: cfg, Telemetry: nopTelemetry}, nil)
	require.NoError(t, err)
	require.NoError(t, in.Start(context.Background(), host))
	assert.Equal(t, []string{"processor k8s_netio_anomaly learn"}, ext.clientNames(), "one client, named as earlier versions named it")
	require.NoError(t, in.Shutdown(context.Background()))
	assert.True(t, ext.isClosed(), "the client is closed after the engine's last save")
}

// learn.storage, the older name, still keeps the state (the learning days and the detection
// state of each node); it is saved as an index and one key per entry.
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

	in, err := NewInstance(componenttest.NewNopTelemetrySettings(), id, Spec{Kind: component.KindConnector, Config: cfg, Telemetry: nopTelemetry}, nil)
	require.NoError(t, err)
	require.NoError(t, in.Start(context.Background(), host))
	feedGolden(t, in.Engine())
	require.NoError(t, in.Shutdown(context.Background()))

	assert.Equal(t, []string{"connector k8s_netio_anomaly learn"}, ext.clientNames())
	assert.True(t, ext.isClosed())
	idx := ext.index(t)
	require.Len(t, idx.Entries, 2, "one UTC day of data and one node")
	assert.True(t, strings.HasPrefix(idx.Entries[0], "day/"), idx.Entries[0])
	assert.Equal(t, "detect/node-1", idx.Entries[1])
	for _, e := range idx.Entries {
		assert.NotEmpty(t, ext.get(entryKey(e)))
	}
	learned, err := os.ReadFile(cfg.Learn.Path)
	require.NoError(t, err)
	assert.Contains(t, string(learned), "prod:web,")

	// The next start restores what was saved.
	core, observed := observer.New(zapcore.InfoLevel)
	set := componenttest.NewNopTelemetrySettings()
	set.Logger = zap.New(core)
	in, err = NewInstance(set, id, Spec{Kind: component.KindConnector, Config: cfg, Telemetry: nopTelemetry}, nil)
	require.NoError(t, err)
	require.NoError(t, in.Start(context.Background(), host))
	require.NoError(t, in.Shutdown(context.Background()))
	restored := observed.FilterMessage("State restored").All()
	require.Len(t, restored, 1)
	assert.Equal(t, int64(1), restored[0].ContextMap()["learning_days"])
	assert.Equal(t, int64(1), restored[0].ContextMap()["sources"])
}

// Errors name the key the user wrote.
func TestStorageMissing(t *testing.T) {
	for _, key := range []string{"storage", "learn.storage"} {
		cfg := goldenConfig(t)
		if key == "storage" {
			cfg.Storage = "file_storage"
		} else {
			cfg.Learn = engine.LearnConfig{Enabled: true, Path: filepath.Join(t.TempDir(), "learned.csv"), WriteInterval: 3600e9, Days: 30, Storage: "file_storage"}
		}
		for name, host := range map[string]component.Host{
			"not configured":       extensionsHost{},
			"not a storage at all": extensionsHost{component.MustNewID("file_storage"): struct{ component.Component }{}},
		} {
			t.Run(key+"/"+name, func(t *testing.T) {
				in, err := NewInstance(componenttest.NewNopTelemetrySettings(), component.MustNewID("k8s_netio_anomaly"),
					Spec{Kind: component.KindProcessor, Config: cfg, Telemetry: nopTelemetry}, nil)
				require.NoError(t, err)
				err = in.Start(context.Background(), host)
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), key+": "), "got %q", err)
				assert.ErrorContains(t, err, `"file_storage"`)
				require.NoError(t, in.Shutdown(context.Background()))
			})
		}
	}
}

func TestStateStoreSavesEntriesSeparately(t *testing.T) {
	ext := &memStorage{}
	s := boundStore(t, ext, "storage")
	ctx := context.Background()

	loaded, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Empty(t, loaded, "nothing saved yet")

	require.NoError(t, s.Save(ctx, map[string][]byte{"day/2026-12-01": []byte("d1"), "detect/node-1": []byte("n1")}))
	assert.ElementsMatch(t, []string{"state/day/2026-12-01", "state/detect/node-1", stateIndexKey}, ext.takeSets())
	assert.Equal(t, []string{"day/2026-12-01", "detect/node-1"}, ext.index(t).Entries)

	// Only what changed is written; what is gone is deleted.
	require.NoError(t, s.Save(ctx, map[string][]byte{"day/2026-12-01": []byte("d1"), "detect/node-2": []byte("n2")}))
	assert.ElementsMatch(t, []string{"state/detect/node-2", stateIndexKey}, ext.takeSets())
	assert.Nil(t, ext.get("state/detect/node-1"), "an entry no longer saved is deleted")
	assert.Equal(t, []string{"day/2026-12-01", "detect/node-2"}, ext.index(t).Entries)

	// A new process (another store on the same storage) loads the set and then writes only changes.
	s2 := boundStore(t, ext, "storage")
	loaded, err = s2.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"day/2026-12-01": []byte("d1"), "detect/node-2": []byte("n2")}, loaded)
	require.NoError(t, s2.Save(ctx, map[string][]byte{"day/2026-12-01": []byte("d1"), "detect/node-2": []byte("n2 later")}))
	assert.ElementsMatch(t, []string{"state/detect/node-2", stateIndexKey}, ext.takeSets())
}

// One entry that cannot be read costs that entry only.
func TestStateStoreSkipsUnreadableEntries(t *testing.T) {
	ext := &memStorage{}
	ctx := context.Background()
	require.NoError(t, boundStore(t, ext, "storage").Save(ctx, map[string][]byte{"a": []byte("1"), "b": []byte("2"), "c": []byte("3")}))
	require.NoError(t, ext.client().Delete(ctx, entryKey("b")))
	ext.failGet(entryKey("c"), errors.New("page checksum mismatch"))

	core, observed := observer.New(zapcore.InfoLevel)
	s := newStateStore("file_storage", "storage", zap.New(core))
	s.client = ext.client()
	loaded, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1")}, loaded)
	skipped := observed.FilterMessageSnippet("Skipping a state entry").All()
	require.Len(t, skipped, 2)
	var names []string
	for _, e := range skipped {
		names = append(names, e.ContextMap()["entry"].(string))
	}
	assert.ElementsMatch(t, []string{"b", "c"}, names)
}

func TestStateStoreDamagedIndex(t *testing.T) {
	for _, tc := range []struct{ index, want string }{
		{"{not json", "storage: the state index is damaged"},
		{`{"version":2,"entries":["a"]}`, "storage: the state index has version 2, this build reads version 1"},
	} {
		ext := &memStorage{}
		require.NoError(t, ext.client().Set(context.Background(), stateIndexKey, []byte(tc.index)))
		_, err := boundStore(t, ext, "storage").Load(context.Background())
		assert.ErrorContains(t, err, tc.want)
	}
}

// The single learn_state value of earlier versions is read, and replaced by the first save.
func TestStateStoreReadsEarlierLearningState(t *testing.T) {
	ext := &memStorage{}
	ctx := context.Background()
	old, err := json.Marshal(map[string][]byte{"day/2026-11-30": []byte("x"), "day/2026-12-01": []byte("y")})
	require.NoError(t, err)
	require.NoError(t, ext.client().Set(ctx, legacyStateKey, old))

	s := boundStore(t, ext, "learn.storage")
	loaded, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"day/2026-11-30": []byte("x"), "day/2026-12-01": []byte("y")}, loaded)

	require.NoError(t, s.Save(ctx, loaded))
	assert.Nil(t, ext.get(legacyStateKey))
	assert.Equal(t, []string{"day/2026-11-30", "day/2026-12-01"}, ext.index(t).Entries)
	assert.Equal(t, []byte("y"), ext.get(entryKey("day/2026-12-01")))

	require.NoError(t, ext.client().Set(ctx, legacyStateKey, []byte("{")))
	require.NoError(t, ext.client().Delete(ctx, stateIndexKey))
	_, err = boundStore(t, ext, "learn.storage").Load(ctx)
	assert.ErrorContains(t, err, "learn.storage: the learning state (learn_state) is damaged")
}

// After a failed save the store cannot know what storage holds, so the next one writes it all.
func TestStateStoreRewritesAllAfterFailedSave(t *testing.T) {
	ext := &memStorage{}
	ctx := context.Background()
	s := boundStore(t, ext, "storage")
	entries := map[string][]byte{"a": []byte("1"), "b": []byte("2")}
	require.NoError(t, s.Save(ctx, entries))
	ext.takeSets()

	ext.failBatch(errors.New("disk full"))
	err := s.Save(ctx, map[string][]byte{"a": []byte("1"), "b": []byte("3")})
	require.ErrorContains(t, err, "storage: cannot save the state: disk full")

	require.NoError(t, s.Save(ctx, entries))
	assert.ElementsMatch(t, []string{"state/a", "state/b", stateIndexKey}, ext.takeSets())
}

// An engine that saves without having loaded (it restores only what it uses) still replaces
// the whole saved set.
func TestStateStoreSaveWithoutLoad(t *testing.T) {
	ext := &memStorage{}
	ctx := context.Background()
	require.NoError(t, boundStore(t, ext, "storage").Save(ctx, map[string][]byte{"old": []byte("1")}))

	require.NoError(t, boundStore(t, ext, "storage").Save(ctx, map[string][]byte{"new": []byte("2")}))
	assert.Nil(t, ext.get(entryKey("old")))
	assert.Equal(t, []string{"new"}, ext.index(t).Entries)
}

// The real file_storage: a state of some megabytes survives a restart of the extension.
func TestStateStoreOnFileStorage(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	id := component.MustNewID("k8s_netio_anomaly")
	entries := map[string][]byte{}
	for i := range 400 {
		entries[fmt.Sprintf("detect/node-%03d", i)] = []byte(strings.Repeat(fmt.Sprintf("pod-%03d;", i), 2500)) // 20 kB
	}
	entries["day/2026-12-01"] = []byte("learned")

	run := func(f func(s *stateStore)) {
		fs := filestorage.NewFactory()
		cfg := fs.CreateDefaultConfig().(*filestorage.Config)
		cfg.Directory = dir
		ext, err := fs.Create(ctx, extensiontest.NewNopSettings(fs.Type()), cfg)
		require.NoError(t, err)
		require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
		s := newStateStore("file_storage", "storage", zap.NewNop())
		require.NoError(t, s.bind(ctx, extensionsHost{component.MustNewID("file_storage"): ext}, component.KindProcessor, id))
		f(s)
		require.NoError(t, s.close(ctx))
		require.NoError(t, ext.Shutdown(ctx))
	}
	run(func(s *stateStore) {
		require.NoError(t, s.Save(ctx, entries))
		delete(entries, "detect/node-007")
		entries["day/2026-12-02"] = []byte("learned too")
		require.NoError(t, s.Save(ctx, entries))
	})
	run(func(s *stateStore) {
		loaded, err := s.Load(ctx)
		require.NoError(t, err)
		require.Len(t, loaded, len(entries))
		assert.True(t, maps.EqualFunc(entries, loaded, func(a, b []byte) bool { return string(a) == string(b) }))
	})
}

func boundStore(t *testing.T, ext *memStorage, key string) *stateStore {
	t.Helper()
	s := newStateStore("file_storage", key, zap.NewNop())
	require.NoError(t, s.bind(context.Background(), extensionsHost{component.MustNewID("file_storage"): ext}, component.KindProcessor, component.MustNewID("k8s_netio_anomaly")))
	return s
}

type extensionsHost map[component.ID]component.Component

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h }

// memStorage is a storage extension that keeps its data in memory; a batch applies all its
// operations or none, as file_storage's transaction does.
type memStorage struct {
	component.StartFunc
	component.ShutdownFunc

	mu       sync.Mutex
	data     map[string][]byte
	clients  []string
	closed   bool
	sets     []string         // keys set since the last takeSets
	getErrs  map[string]error // Get of these keys fails
	batchErr error            // the next batch fails
}

func (m *memStorage) GetClient(_ context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clients = append(m.clients, strings.ToLower(kind.String())+" "+id.String()+" "+name)
	m.closed = false
	return memClient{m}, nil
}

func (m *memStorage) client() storage.Client { return memClient{m} }

func (m *memStorage) get(key string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data[key]
}

func (m *memStorage) index(t *testing.T) stateIndex {
	t.Helper()
	var idx stateIndex
	require.NoError(t, json.Unmarshal(m.get(stateIndexKey), &idx))
	return idx
}

func (m *memStorage) clientNames() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.clients)
}

func (m *memStorage) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

func (m *memStorage) takeSets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	sets := m.sets
	m.sets = nil
	return sets
}

func (m *memStorage) failGet(key string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.getErrs == nil {
		m.getErrs = map[string]error{}
	}
	m.getErrs[key] = err
}

func (m *memStorage) failBatch(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batchErr = err
}

type memClient struct{ m *memStorage }

func (c memClient) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := c.Batch(ctx, op)
	return op.Value, err
}

func (c memClient) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

func (c memClient) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

func (c memClient) Batch(_ context.Context, ops ...*storage.Operation) error {
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.batchErr; err != nil {
		m.batchErr = nil
		return err
	}
	for _, op := range ops {
		if op.Type == storage.Get {
			if err := m.getErrs[op.Key]; err != nil {
				return err
			}
		}
	}
	data := maps.Clone(m.data)
	if data == nil {
		data = map[string][]byte{}
	}
	var sets []string
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value = data[op.Key]
		case storage.Set:
			data[op.Key] = op.Value
			sets = append(sets, op.Key)
		case storage.Delete:
			delete(data, op.Key)
		}
	}
	m.data = data
	m.sets = append(m.sets, sets...)
	return nil
}

func (c memClient) Close(context.Context) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.m.closed = true
	return nil
}
