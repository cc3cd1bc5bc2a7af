package enginehost // import "github.com/k8snetio/k8snetioanomaly/internal/enginehost"

import (
	"context"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

// eventQueue hands events to the logs side from a goroutine of its own, so that whoever made
// them (the processor's metrics pipeline) never waits for a logs pipeline and its exporter.
type eventQueue struct {
	ch      chan queued
	handOff func(context.Context, []engine.Event) // the synchronous hand-over, run by the goroutine
	dropped metric.Int64Counter
	logger  *zap.Logger
	warned  atomic.Bool
	started atomic.Bool // the goroutine runs, so waiting for room can end

	// ctx is the deliveries'; cancel aborts them when a shutdown runs out of time.
	ctx    context.Context
	cancel context.CancelFunc
	stop   chan struct{} // closed: deliver what is queued, then end
	done   chan struct{} // closed when the goroutine has ended; nil until start

	mu       sync.Mutex
	inFlight context.CancelFunc // aborts the delivery in progress
	// skipUntil, when set, is the barrier of a sync that ran out of time: batches before it are
	// logged rather than delivered, so that the consumer being detached is not called again.
	skipUntil chan struct{}
}

// queued is a batch of events, or a barrier that is closed once everything before it is handed off.
type queued struct {
	events  []engine.Event
	barrier chan struct{}
}

// waitForRoomKey marks the context of a flush that must not lose events to a full queue: the
// shutdown's, when the metrics have stopped and only the queue's goroutine can free room.
type waitForRoomKey struct{}

func waitForRoom(ctx context.Context) context.Context {
	return context.WithValue(ctx, waitForRoomKey{}, true)
}

var reasonBufferFull = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "buffer_full")))

func newEventQueue(size int, handOff func(context.Context, []engine.Event), dropped metric.Int64Counter, logger *zap.Logger) *eventQueue {
	ctx, cancel := context.WithCancel(context.Background())
	return &eventQueue{
		ch:      make(chan queued, size),
		handOff: handOff,
		dropped: dropped,
		logger:  logger,
		ctx:     ctx,
		cancel:  cancel,
		stop:    make(chan struct{}),
	}
}

// put queues a batch without waiting; when the queue is full the batch is dropped and counted.
func (q *eventQueue) put(ctx context.Context, events []engine.Event) {
	if ctx.Value(waitForRoomKey{}) != nil {
		if !q.started.Load() {
			select {
			case q.ch <- queued{events: events}:
			default:
				q.logEvents(events) // nothing would make room
			}
			return
		}
		select {
		case q.ch <- queued{events: events}:
		case <-ctx.Done():
			q.logEvents(events)
		}
		return
	}
	select {
	case q.ch <- queued{events: events}:
	default:
		q.drop(ctx, events)
	}
}

func (q *eventQueue) drop(ctx context.Context, events []engine.Event) {
	q.dropped.Add(ctx, int64(len(events)), reasonBufferFull)
	if q.warned.CompareAndSwap(false, true) {
		q.logger.Warn("The logs pipeline does not take the anomaly events as fast as they are made; "+
			"events are dropped while the event queue is full (counted in k8s_netio_anomaly_events_dropped, "+
			"reason buffer_full). Check the logs exporter, or raise event_queue_size.",
			zap.Int("event_queue_size", cap(q.ch)), zap.Int("dropped_now", len(events)))
	}
}

func (q *eventQueue) start() {
	q.done = make(chan struct{})
	q.started.Store(true)
	go q.run()
}

func (q *eventQueue) run() {
	defer close(q.done)
	for {
		select {
		case it := <-q.ch:
			q.process(it)
		case <-q.stop:
			q.drain()
			return
		}
	}
}

// drain processes what is queued, without waiting for more.
func (q *eventQueue) drain() {
	for {
		select {
		case it := <-q.ch:
			q.process(it)
		default:
			return
		}
	}
}

func (q *eventQueue) process(it queued) {
	q.mu.Lock()
	if it.barrier != nil {
		if q.skipUntil == it.barrier {
			q.skipUntil = nil
		}
		close(it.barrier) // under mu: abortUntil sees it closed or its skip is cleared here
		q.mu.Unlock()
		return
	}
	if q.ctx.Err() != nil || q.skipUntil != nil {
		q.mu.Unlock()
		q.logEvents(it.events)
		return
	}
	ctx, cancel := context.WithCancel(q.ctx)
	defer cancel()
	q.inFlight = cancel
	q.mu.Unlock()
	q.handOff(ctx, it.events)
	q.mu.Lock()
	q.inFlight = nil
	q.mu.Unlock()
}

// abortUntil cancels the delivery in progress (it fails and its events are logged) and has the
// batches queued before barrier logged, so that a logs consumer that does not return lets go of
// the hand-over and can be detached.
func (q *eventQueue) abortUntil(barrier chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if barrier != nil {
		select {
		case <-barrier: // reached in the meantime: nothing before it is left
		default:
			q.skipUntil = barrier
		}
	}
	if q.inFlight != nil {
		q.inFlight()
	}
}

// logEvents is the last resort at a shutdown that ran out of time: the collector's log.
func (q *eventQueue) logEvents(events []engine.Event) {
	for i := range events {
		q.logger.Warn("Anomaly event (the logs pipeline did not take it before shutdown)", zap.Any("event", events[i].Body()))
	}
}

// sync waits until every batch queued before it has been handed off. Once ctx is done it aborts
// the delivery in flight instead, so that the caller can detach its consumer.
func (q *eventQueue) sync(ctx context.Context) {
	if q.done == nil {
		return // not started: what is queued waits for the start or the shutdown
	}
	barrier := make(chan struct{})
	select {
	case q.ch <- queued{barrier: barrier}:
	case <-ctx.Done():
		q.abortUntil(nil) // only the delivery in flight: the queue is full, its batches are not before a barrier
		return
	}
	select {
	case <-barrier:
	case <-ctx.Done():
		q.abortUntil(barrier)
	}
}

// shutdown hands off what is queued within ctx; once ctx is done, the delivery in flight is
// aborted (its context is cancelled) and the rest goes to the collector's log.
func (q *eventQueue) shutdown(ctx context.Context) {
	defer q.cancel()
	if q.done == nil {
		q.drain() // never started (the collector failed before the start): hand off here
		return
	}
	close(q.stop)
	select {
	case <-q.done:
	case <-ctx.Done():
		q.cancel()
		<-q.done
	}
}
