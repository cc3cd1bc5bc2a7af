package enginehost // import "github.com/k8snetio/k8snetioanomaly/internal/enginehost"

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

// The state is kept as one storage key per entry plus an index that lists the entries, so that a
// damaged entry costs only itself and a save rewrites only the entries that changed.
const (
	stateIndexKey    = "state_index"
	stateEntryPrefix = "state/" // followed by the entry's name
	stateVersion     = 1
	// legacyStateKey held all learning days in one value, before the detection state was kept
	// too; it is read when there is no index yet and deleted by the first save.
	legacyStateKey = "learn_state"
	// clientName stays what it was when only learning used storage, so that file_storage finds
	// the file written by earlier versions.
	clientName = "learn"
)

type stateIndex struct {
	Version int      `json:"version"`
	Entries []string `json:"entries"`
}

// stateStore is the engine's StateStore on a storage extension. The engine is built before
// extensions can be reached, so the client is bound at start-up, before the engine restores.
type stateStore struct {
	extension string // the storage extension's ID
	key       string // the config key that named it, for messages: storage or learn.storage
	logger    *zap.Logger
	seed      maphash.Seed

	mu     sync.Mutex
	client storage.Client
	// stored is what storage holds for sure: each entry's hash, from the last load or save; nil
	// when unknown (after a failed save), so the next save writes every entry.
	stored map[string]uint64
	// listed are the entries storage may hold, so that a save deletes those it drops; known says
	// that listed and legacy have been read from storage.
	listed map[string]struct{}
	legacy bool // legacyStateKey is in storage
	known  bool
}

var _ engine.StateStore = (*stateStore)(nil)

func newStateStore(extension, key string, logger *zap.Logger) *stateStore {
	return &stateStore{extension: extension, key: key, logger: logger, seed: maphash.MakeSeed()}
}

// storageKey is the config key that named the storage extension, so that errors name what the
// user wrote.
func storageKey(cfg engine.Config) string {
	if cfg.Storage == "" && cfg.Learn.Storage != "" {
		return "learn.storage"
	}
	return "storage"
}

func entryKey(name string) string { return stateEntryPrefix + name }

// Load returns the saved entries. An entry that cannot be read is logged and left out; only an
// unreadable index loses everything.
func (s *stateStore) Load(ctx context.Context) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil, nil
	}
	idx, legacy, err := s.readIndex(ctx)
	if err != nil {
		return nil, err
	}
	s.stored = map[string]uint64{}
	switch {
	case idx != nil:
		entries := make(map[string][]byte, len(idx.Entries))
		for _, name := range idx.Entries {
			data, err := s.client.Get(ctx, entryKey(name))
			switch {
			case err != nil:
				s.logger.Error("Skipping a state entry that cannot be read from storage", zap.String("entry", name), zap.Error(err))
			case data == nil:
				s.logger.Error("Skipping a state entry that the index lists but storage does not hold", zap.String("entry", name))
			default:
				entries[name] = data
				s.stored[name] = maphash.Bytes(s.seed, data)
			}
		}
		return entries, nil
	case legacy != nil:
		var entries map[string][]byte
		if err := json.Unmarshal(legacy, &entries); err != nil {
			return nil, fmt.Errorf("%s: the learning state (%s) is damaged: %w", s.key, legacyStateKey, err)
		}
		return entries, nil
	}
	return nil, nil
}

// readIndex reads the index and the legacy value and notes what storage holds.
func (s *stateStore) readIndex(ctx context.Context) (*stateIndex, []byte, error) {
	index, legacy := storage.GetOperation(stateIndexKey), storage.GetOperation(legacyStateKey)
	if err := s.client.Batch(ctx, index, legacy); err != nil {
		return nil, nil, fmt.Errorf("%s: cannot read the state: %w", s.key, err)
	}
	s.known, s.legacy, s.listed = true, legacy.Value != nil, map[string]struct{}{}
	if index.Value == nil {
		return nil, legacy.Value, nil
	}
	var idx stateIndex
	if err := json.Unmarshal(index.Value, &idx); err != nil {
		return nil, nil, fmt.Errorf("%s: the state index is damaged: %w", s.key, err)
	}
	if idx.Version != stateVersion {
		return nil, nil, fmt.Errorf("%s: the state index has version %d, this build reads version %d", s.key, idx.Version, stateVersion)
	}
	for _, name := range idx.Entries {
		s.listed[name] = struct{}{}
	}
	return &idx, legacy.Value, nil
}

// Save replaces the saved entries with entries in one batch (one transaction with file_storage):
// the changed entries, then the index, then the deletion of entries no longer listed.
func (s *stateStore) Save(ctx context.Context, entries map[string][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil
	}
	if !s.known {
		// Nothing was loaded (the engine restores only what it uses): find what to replace.
		if _, _, err := s.readIndex(ctx); err != nil {
			s.logger.Warn("The saved state is replaced without knowing its entries; entries no longer used may stay in storage", zap.Error(err))
		}
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	stored := make(map[string]uint64, len(names))
	ops := make([]*storage.Operation, 0, len(names)+1)
	for _, name := range names {
		h := maphash.Bytes(s.seed, entries[name])
		stored[name] = h
		if old, ok := s.stored[name]; ok && old == h {
			continue // unchanged since the last load or save
		}
		ops = append(ops, storage.SetOperation(entryKey(name), entries[name]))
	}
	index, err := json.Marshal(stateIndex{Version: stateVersion, Entries: names})
	if err != nil {
		return err
	}
	ops = append(ops, storage.SetOperation(stateIndexKey, index))
	for name := range s.listed {
		if _, ok := entries[name]; !ok {
			ops = append(ops, storage.DeleteOperation(entryKey(name)))
		}
	}
	if s.legacy {
		ops = append(ops, storage.DeleteOperation(legacyStateKey))
	}
	if s.listed == nil {
		s.listed = map[string]struct{}{}
	}
	for _, name := range names { // storage may hold them now, whatever the batch's outcome
		s.listed[name] = struct{}{}
	}
	if err := s.client.Batch(ctx, ops...); err != nil {
		s.stored = nil // some of the batch may have been applied: write everything next time
		return fmt.Errorf("%s: cannot save the state: %w", s.key, err)
	}
	s.stored, s.legacy = stored, false
	s.listed = make(map[string]struct{}, len(names))
	for _, name := range names {
		s.listed[name] = struct{}{}
	}
	return nil
}

// bind gets a client from the storage extension.
func (s *stateStore) bind(ctx context.Context, host component.Host, kind component.Kind, id component.ID) error {
	var extID component.ID
	if err := extID.UnmarshalText([]byte(s.extension)); err != nil {
		return fmt.Errorf("%s: %w", s.key, err)
	}
	ext, ok := host.GetExtensions()[extID]
	if !ok {
		return fmt.Errorf("%s: no extension %q is running; configure it and list it under service::extensions", s.key, s.extension)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return fmt.Errorf("%s: extension %q is not a storage extension", s.key, s.extension)
	}
	client, err := se.GetClient(ctx, kind, id, clientName)
	if err != nil {
		return fmt.Errorf("%s: %w", s.key, err)
	}
	s.mu.Lock()
	s.client = client
	s.mu.Unlock()
	return nil
}

// close releases the client after the engine's last save.
func (s *stateStore) close(ctx context.Context) error {
	s.mu.Lock()
	c := s.client
	s.client = nil
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Close(ctx)
}
