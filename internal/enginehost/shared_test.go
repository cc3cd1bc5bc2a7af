package enginehost

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
)

// counted is a shared value that counts its starts and shutdowns.
type counted struct {
	build             int // which create made it
	starts, shutdowns atomic.Int32
	startErr          error
	shutdownErr       error
}

func (c *counted) Start(context.Context, component.Host) error {
	c.starts.Add(1)
	return c.startErr
}

func (c *counted) Shutdown(context.Context) error {
	c.shutdowns.Add(1)
	return c.shutdownErr
}

// countingCreate returns a create function that numbers what it makes.
func countingCreate() (create func() (*counted, error), made *int) {
	made = new(int)
	return func() (*counted, error) {
		*made++
		return &counted{build: *made}, nil
	}, made
}

func joinShared[K comparable](t *testing.T, m *sharedMap[K, *counted], key K, create func() (*counted, error)) *sharedUser[K, *counted] {
	t.Helper()
	u, err := m.join(key, create)
	require.NoError(t, err)
	return u
}

func TestSharedStartsOnceAndStopsWithLastUser(t *testing.T) {
	ctx, host := context.Background(), componenttest.NewNopHost()
	var m sharedMap[string, *counted]
	create, made := countingCreate()
	users := []*sharedUser[string, *counted]{joinShared(t, &m, "a", create), joinShared(t, &m, "a", create), joinShared(t, &m, "a", create)}
	require.Equal(t, 1, *made, "one value per key")
	v := users[0].value()
	for _, u := range users {
		require.NoError(t, u.Start(ctx, host))
	}
	assert.EqualValues(t, 1, v.starts.Load())

	require.NoError(t, users[0].Shutdown(ctx))
	require.NoError(t, users[0].Shutdown(ctx), "a user's second shutdown")
	require.NoError(t, users[1].Shutdown(ctx))
	assert.Zero(t, v.shutdowns.Load(), "a user is left, and a second shutdown counted once")
	assert.Equal(t, 1, m.len())

	require.NoError(t, users[2].Shutdown(ctx))
	assert.EqualValues(t, 1, v.shutdowns.Load())
	assert.Zero(t, m.len(), "the last user removes the value")
	require.NoError(t, users[2].Start(ctx, host))
	assert.EqualValues(t, 1, v.starts.Load(), "a value that has shut down does not start again")
}

// The collector starts components one after another; the map does not count on it: no user's
// Start returns before the value has started.
func TestSharedConcurrentStartsStartOnce(t *testing.T) {
	var m sharedMap[string, *counted]
	create, _ := countingCreate()
	var users []*sharedUser[string, *counted]
	for range 8 {
		users = append(users, joinShared(t, &m, "a", create))
	}
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, u.Start(context.Background(), componenttest.NewNopHost()))
			assert.EqualValues(t, 1, u.value().starts.Load(), "started when Start returns")
		}()
	}
	wg.Wait()
	for _, u := range users {
		require.NoError(t, u.Shutdown(context.Background()))
	}
	assert.EqualValues(t, 1, users[0].value().shutdowns.Load())
}

// A reload builds new config values: the new build gets a fresh value even while the old build's
// has a user left, and that user's late shutdown touches only the old value.
func TestSharedReloadGetsFreshValue(t *testing.T) {
	ctx := context.Background()
	type config struct{ name string }
	var m sharedMap[*config, *counted]
	create, made := countingCreate()
	oldCfg, newCfg := &config{"x"}, &config{"x"}
	stale := joinShared(t, &m, oldCfg, create)
	fresh := joinShared(t, &m, newCfg, create)
	require.Equal(t, 2, *made)
	assert.NotSame(t, stale.value(), fresh.value())

	require.NoError(t, stale.Shutdown(ctx))
	assert.EqualValues(t, 1, stale.value().shutdowns.Load())
	assert.Zero(t, fresh.value().shutdowns.Load())
	require.NoError(t, fresh.Shutdown(ctx))
	assert.Zero(t, m.len())

	// A key whose value has gone (a component created again after it shut down) makes a new one.
	again := joinShared(t, &m, newCfg, create)
	assert.Equal(t, 3, again.value().build)
	require.NoError(t, again.Shutdown(ctx))
}

// A failed start is returned to the user that tried; the next user's start tries again. The
// collector then shuts everything down, the value included.
func TestSharedStartError(t *testing.T) {
	ctx, host := context.Background(), componenttest.NewNopHost()
	var m sharedMap[string, *counted]
	failing := &counted{startErr: errors.New("no storage extension")}
	first, err := m.join("a", func() (*counted, error) { return failing, nil })
	require.NoError(t, err)
	second := joinShared(t, &m, "a", nil) // no create: the value exists
	third := joinShared(t, &m, "a", nil)

	require.ErrorContains(t, first.Start(ctx, host), "no storage extension")
	require.ErrorContains(t, second.Start(ctx, host), "no storage extension", "not started, so tried again")
	failing.startErr = nil
	require.NoError(t, third.Start(ctx, host))
	assert.EqualValues(t, 3, failing.starts.Load())

	failing.shutdownErr = errors.New("state not saved")
	require.NoError(t, first.Shutdown(ctx))
	require.NoError(t, second.Shutdown(ctx))
	require.ErrorContains(t, third.Shutdown(ctx), "state not saved", "the last user gets the value's shutdown error")
	assert.EqualValues(t, 1, failing.shutdowns.Load())
}

// The collector shuts down what it created even when it never started it.
func TestSharedShutdownWithoutStart(t *testing.T) {
	ctx := context.Background()
	var m sharedMap[string, *counted]
	create, _ := countingCreate()
	a, b := joinShared(t, &m, "a", create), joinShared(t, &m, "a", create)
	require.NoError(t, a.Shutdown(ctx))
	require.NoError(t, b.Shutdown(ctx))
	assert.Zero(t, a.value().starts.Load())
	assert.EqualValues(t, 1, a.value().shutdowns.Load())
	assert.Zero(t, m.len())
}

func TestSharedCreateErrorStoresNothing(t *testing.T) {
	var m sharedMap[string, *counted]
	_, err := m.join("a", func() (*counted, error) { return nil, errors.New("broken baseline") })
	require.ErrorContains(t, err, "broken baseline")
	assert.Zero(t, m.len())
	create, made := countingCreate()
	u := joinShared(t, &m, "a", create)
	assert.Equal(t, 1, *made, "the next join creates")
	require.NoError(t, u.Shutdown(context.Background()))
}
