package enginehost // import "github.com/k8snetio/k8snetioanomaly/internal/enginehost"

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// learnStateKey holds all saved days in one value, so that a save replaces them atomically.
const learnStateKey = "learn_state"

// learnState is the engine's StateStore on a storage extension (learn.storage). The engine is
// built before extensions can be reached, so the client is bound at start-up, before the engine
// starts and restores.
type learnState struct {
	mu     sync.Mutex
	client storage.Client
}

func (s *learnState) Load(ctx context.Context) (map[string][]byte, error) {
	c := s.current()
	if c == nil {
		return nil, nil
	}
	data, err := c.Get(ctx, learnStateKey)
	if err != nil || data == nil {
		return nil, err
	}
	var entries map[string][]byte
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("learning state in storage is damaged: %w", err)
	}
	return entries, nil
}

func (s *learnState) Save(ctx context.Context, entries map[string][]byte) error {
	c := s.current()
	if c == nil {
		return nil
	}
	data, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	return c.Set(ctx, learnStateKey, data)
}

func (s *learnState) current() storage.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}

// bind gets a client from the named storage extension.
func (s *learnState) bind(ctx context.Context, host component.Host, name string, kind component.Kind, id component.ID) error {
	var extID component.ID
	if err := extID.UnmarshalText([]byte(name)); err != nil {
		return fmt.Errorf("learn.storage: %w", err)
	}
	ext, ok := host.GetExtensions()[extID]
	if !ok {
		return fmt.Errorf("learn.storage: no extension %q is running; configure it and list it under service::extensions", name)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return fmt.Errorf("learn.storage: extension %q is not a storage extension", name)
	}
	client, err := se.GetClient(ctx, kind, id, "learn")
	if err != nil {
		return fmt.Errorf("learn.storage: %w", err)
	}
	s.mu.Lock()
	s.client = client
	s.mu.Unlock()
	return nil
}

// close releases the client after the engine's last save.
func (s *learnState) close(ctx context.Context) error {
	s.mu.Lock()
	c := s.client
	s.client = nil
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Close(ctx)
}
