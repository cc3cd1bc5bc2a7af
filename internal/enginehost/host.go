// Package enginehost runs the detection engine inside collector components: one engine per
// component ID, shared by its instances, its events handed to their logs consumers (or to the
// collector's log, so none is lost silently) and its state kept in a storage extension.
package enginehost // import "github.com/k8snetio/k8snetioanomaly/internal/enginehost"

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.uber.org/zap"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

// Telemetry is a host's instruments: the engine's and the host's own.
type Telemetry struct {
	Engine engine.Telemetry
	// EventsDropped counts events the queue had no room for; needed only with EventQueueSize.
	EventsDropped metric.Int64Counter
}

// TelemetryFunc builds the instruments from a component face's mdatagen builder; release undoes
// it when the engine is gone.
type TelemetryFunc func(component.TelemetrySettings) (tel Telemetry, release func(), err error)

// Spec is what a component face contributes to its engine.
type Spec struct {
	Kind      component.Kind // for the storage client
	Config    engine.Config
	Telemetry TelemetryFunc
	// NoLogsWarning, when set, is logged once at start-up if no instance passes events on.
	NoLogsWarning func(component.ID) string
	// EventQueueSize > 0 queues that many event batches, so feeding metrics never waits for a
	// logs pipeline (full: dropped and counted); 0 hands them over in the caller's goroutine,
	// the collector's usual back-pressure, right for a connector.
	EventQueueSize int
}

// engineHost is one engine and the places its events go to; the instances that share it hold it
// through a sharedMap, which starts it with the first and shuts it down with the last.
type engineHost struct {
	id         component.ID
	kind       component.Kind
	logger     *zap.Logger
	events     engine.EventConfig
	eng        *engine.Engine
	state      *stateStore // nil without storage
	queue      *eventQueue // nil: events are handed over synchronously
	releaseTel func()
	noLogs     func(component.ID) string

	mu       sync.Mutex // guards the fields below and the instances' started
	feeders  int        // instances that feed metrics in
	emitters int        // instances that pass events on
	done     bool       // the engine has shut down

	// outMu is held for reading while events are handed over, so that an instance detaching
	// its consumer waits until no call into that consumer is in flight.
	outMu    sync.RWMutex
	outs     []*Instance
	awaiting int            // instances that will pass events on but have not started yet
	early    []engine.Event // events made before the first of those started
}

// maxEarlyEvents bounds the events held for a logs consumer that has not started yet (a replay
// can make events from its first batch); more go to the collector's log.
const maxEarlyEvents = 10000

// newHost builds a host and its engine; a bad configuration or baseline file is an error here,
// so the collector refuses to start with the engine's file:line:col message.
func newHost(set component.TelemetrySettings, id component.ID, spec Spec) (*engineHost, error) {
	tel, release, err := spec.Telemetry(set)
	if err != nil {
		return nil, err
	}
	h := &engineHost{id: id, kind: spec.Kind, logger: set.Logger, events: spec.Config.Event, releaseTel: release, noLogs: spec.NoLogsWarning}
	es := engine.Settings{Logger: set.Logger, Telemetry: tel.Engine, Emit: h.emit}
	if ext := spec.Config.StorageID(); ext != "" {
		h.state = newStateStore(ext, storageKey(spec.Config), set.Logger)
		es.State = h.state
	}
	if spec.EventQueueSize > 0 {
		dropped := tel.EventsDropped
		if dropped == nil {
			dropped, _ = noop.NewMeterProvider().Meter("").Int64Counter("")
		}
		h.queue = newEventQueue(spec.EventQueueSize, h.handOver, dropped, set.Logger)
	}
	h.eng, err = engine.New(spec.Config, es)
	if err != nil {
		release()
		return nil, err
	}
	return h, nil
}

// Start binds the state store, before the engine restores from it, and starts the engine.
func (h *engineHost) Start(ctx context.Context, host component.Host) error {
	if h.state != nil {
		if err := h.state.bind(ctx, host, h.kind, h.id); err != nil {
			return err
		}
	}
	if h.queue != nil {
		h.queue.start()
	}
	h.eng.Start()
	h.mu.Lock()
	defer h.mu.Unlock()
	// All instances are created before any starts, so the counts are final here.
	if h.emitters == 0 && h.noLogs != nil {
		h.logger.Warn(h.noLogs(h.id))
	}
	if h.feeders == 0 {
		h.logger.Warn(h.id.String() + " is in no metrics pipeline, so it has nothing to score and will emit no events")
	}
	if h.feeders > 1 {
		h.logger.Info(fmt.Sprintf("%s is in %d metrics pipelines: a point that reaches it through several of them is scored once "+
			"(the copies repeat its series and timestamp, and are dropped as duplicate or late)", h.id, h.feeders))
	}
	return nil
}

// Shutdown shuts the engine down, which flushes into the consumers still attached, then saves and
// releases what the engine used.
func (h *engineHost) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.done = true
	h.eng.Shutdown(waitForRoom(ctx))
	if h.queue != nil {
		h.queue.shutdown(ctx)
	}
	h.mu.Unlock()
	var err error
	if h.state != nil {
		err = h.state.close(ctx) // after the engine's shutdown saved the state
	}
	h.releaseTel()
	return err
}

// Instance is one collector component's hold on a host.
type Instance struct {
	h       *engineHost
	shared  component.Component // the sharedMap's hold, which starts and shuts down h
	next    consumer.Logs       // receives the events once started; nil for an instance that only feeds
	start   sync.Once
	stop    sync.Once
	started bool // guarded by h.mu
}

// join adds an instance: feeds says it sends metrics into the engine, next (when not nil) is the
// logs consumer it passes events on to.
func join[K comparable](m *sharedMap[K, *engineHost], key K, set component.TelemetrySettings, id component.ID, spec Spec, feeds bool, next consumer.Logs) (*Instance, error) {
	u, err := m.join(key, func() (*engineHost, error) { return newHost(set, id, spec) })
	if err != nil {
		return nil, err
	}
	h := u.value()
	h.mu.Lock()
	defer h.mu.Unlock()
	if feeds {
		h.feeders++
	}
	if next != nil {
		h.emitters++
		h.outMu.Lock()
		h.awaiting++
		h.outMu.Unlock()
	}
	return &Instance{h: h, shared: u, next: next}, nil
}

// Engine returns the engine the instance shares.
func (in *Instance) Engine() *engine.Engine { return in.h.eng }

// Start starts the engine with the host's first instance and, for an instance that passes events
// on, attaches its logs consumer: its downstream components are started by now.
func (in *Instance) Start(ctx context.Context, host component.Host) error {
	var err error
	in.start.Do(func() {
		if err = in.shared.Start(ctx, host); err == nil {
			in.h.started(ctx, in)
		}
	})
	return err
}

// Shutdown ends the instance; the host's last instance shuts the engine down, which flushes into
// the consumers still attached (its own too), before its consumer is detached.
func (in *Instance) Shutdown(ctx context.Context) error {
	var err error
	in.stop.Do(func() {
		err = in.shared.Shutdown(ctx)
		in.h.leave(ctx, in)
	})
	return err
}

func (h *engineHost) started(ctx context.Context, in *Instance) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	in.started = true
	if in.next != nil {
		h.attach(ctx, in)
	}
}

// leave detaches the consumer of an instance that has shut down.
func (h *engineHost) leave(ctx context.Context, in *Instance) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.isAttached(in):
		if !h.done {
			// The consumer goes away before the engine does (the collector shuts pipelines down in
			// no fixed order between them): hand it what is complete now, while it can still take
			// it. With a state store nothing is flushed: the span in progress resumes after the restart.
			if h.state == nil {
				h.eng.Flush(waitForRoom(ctx))
			}
			if h.queue != nil {
				h.queue.sync(ctx)
			}
		}
		h.detach(in)
	case in.next != nil && !in.started:
		h.giveUpWaiting()
	}
}

func (h *engineHost) isAttached(in *Instance) bool {
	h.outMu.RLock()
	defer h.outMu.RUnlock()
	for _, o := range h.outs {
		if o == in {
			return true
		}
	}
	return false
}

func (h *engineHost) attach(ctx context.Context, in *Instance) {
	h.outMu.Lock()
	defer h.outMu.Unlock()
	h.outs = append(h.outs, in)
	h.awaiting--
	if len(h.early) > 0 {
		h.deliver(ctx, h.early)
		h.early = nil
	}
}

// giveUpWaiting is for an instance that shuts down without having started: when no other will
// take the held events, they go to the collector's log.
func (h *engineHost) giveUpWaiting() {
	h.outMu.Lock()
	defer h.outMu.Unlock()
	h.awaiting--
	if h.awaiting == 0 && len(h.outs) == 0 && len(h.early) > 0 {
		h.logEvents(h.early)
		h.early = nil
	}
}

func (h *engineHost) detach(in *Instance) {
	h.outMu.Lock()
	defer h.outMu.Unlock()
	for i, o := range h.outs {
		if o == in {
			h.outs = append(h.outs[:i:i], h.outs[i+1:]...)
			return
		}
	}
}

// emit is the engine's Emit: ctx is the metrics pipeline's or a background one.
func (h *engineHost) emit(ctx context.Context, events []engine.Event) {
	if h.queue != nil {
		h.queue.put(ctx, events)
		return
	}
	h.handOver(ctx, events)
}

// handOver passes events to the attached consumers, holds them for one that has not started yet,
// or logs them. A failing logs pipeline is logged, never returned: the metrics must keep flowing.
func (h *engineHost) handOver(ctx context.Context, events []engine.Event) {
	h.outMu.RLock()
	if len(h.outs) > 0 {
		defer h.outMu.RUnlock()
		h.deliver(ctx, events)
		return
	}
	h.outMu.RUnlock()
	h.outMu.Lock()
	defer h.outMu.Unlock()
	switch {
	case len(h.outs) > 0: // attached in the meantime
		h.deliver(ctx, events)
	case h.awaiting > 0 && len(h.early)+len(events) <= maxEarlyEvents:
		h.early = append(h.early, events...)
	default:
		h.logEvents(events)
	}
}

func (h *engineHost) logEvents(events []engine.Event) {
	for i := range events {
		h.logger.Warn("Anomaly event (no logs pipeline to pass it on to)", zap.Any("event", events[i].Body()))
	}
}

// deliver hands events to every attached consumer; the caller holds outMu.
func (h *engineHost) deliver(ctx context.Context, events []engine.Event) {
	for _, o := range h.outs {
		// Each consumer gets its own copy: a logs pipeline may modify what it is given.
		if err := o.next.ConsumeLogs(ctx, engine.ToLogs(events, h.events)); err != nil {
			h.logger.Error("Anomaly events could not be passed on to the logs pipeline; they are logged here instead",
				zap.Error(err), zap.Any("events", bodies(events)))
		}
	}
}

func bodies(events []engine.Event) []map[string]any {
	out := make([]map[string]any, len(events))
	for i := range events {
		out[i] = events[i].Body()
	}
	return out
}
