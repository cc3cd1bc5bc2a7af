package enginehost // import "github.com/k8snetio/k8snetioanomaly/internal/enginehost"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
)

// sharedMap gives the users that join one key one value, as contrib's internal (so not
// importable) sharedcomponent does, except that the value lives until the last user's shutdown,
// not the first's: pipelines shut down in no fixed order, and the engine must score and save
// every point of those still running.
type sharedMap[K comparable, V component.Component] struct {
	mu      sync.Mutex
	entries map[K]*sharedEntry[V]
}

type sharedEntry[V component.Component] struct {
	value V
	users int // guarded by the map's mu

	mu      sync.Mutex // held while the value starts or shuts down
	started bool
	stopped bool
}

// sharedUser is one user's hold on a shared value; its Start and Shutdown are the user's.
type sharedUser[K comparable, V component.Component] struct {
	m    *sharedMap[K, V]
	key  K
	e    *sharedEntry[V]
	stop sync.Once
}

// join returns a hold on key's value, made by create for the first user; a failed create stores
// nothing.
func (m *sharedMap[K, V]) join(key K, create func() (V, error)) (*sharedUser[K, V], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		v, err := create()
		if err != nil {
			return nil, err
		}
		e = &sharedEntry[V]{value: v}
		if m.entries == nil {
			m.entries = map[K]*sharedEntry[V]{}
		}
		m.entries[key] = e
	}
	e.users++
	return &sharedUser[K, V]{m: m, key: key, e: e}, nil
}

func (m *sharedMap[K, V]) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// leave reports whether u was the value's last user, and if so removes the value.
func (m *sharedMap[K, V]) leave(u *sharedUser[K, V]) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	u.e.users--
	if u.e.users > 0 {
		return false
	}
	delete(m.entries, u.key)
	return true
}

func (u *sharedUser[K, V]) value() V { return u.e.value }

// Start starts the value unless another user has; a failed start leaves it to the next user.
func (u *sharedUser[K, V]) Start(ctx context.Context, host component.Host) error {
	u.e.mu.Lock()
	defer u.e.mu.Unlock()
	if u.e.started || u.e.stopped {
		return nil
	}
	if err := u.e.value.Start(ctx, host); err != nil {
		return err
	}
	u.e.started = true
	return nil
}

// Shutdown shuts the value down when u is its last user, started or not: the collector also shuts
// down what it created and never started, after a failed start.
func (u *sharedUser[K, V]) Shutdown(ctx context.Context) error {
	var err error
	u.stop.Do(func() {
		if !u.m.leave(u) {
			return
		}
		u.e.mu.Lock()
		defer u.e.mu.Unlock()
		u.e.stopped = true
		err = u.e.value.Shutdown(ctx)
	})
	return err
}
