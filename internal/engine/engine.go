// Package engine is the detection "Kubernetes Anomalous Inbound to Outbound Network IO Ratio"
// as a streaming computation: it turns per-pod byte counters into pod-spans, scores each
// span's in/out ratios against a per-service baseline, counts anomalous spans per pod and
// window, and hands out an Event when a pod keeps misbehaving. It knows nothing of
// collector pipelines; the processor and connector feed it and forward its events.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/learn"
)

// SpanObserver receives every closed pod-span, scored or not; the baseline learner is one.
type SpanObserver interface {
	Observe(key, pod string, spanStart time.Time, in, out float64, hasIn, hasOut bool)
	Advance(watermark time.Time)
}

// Settings are the engine's surroundings.
type Settings struct {
	Logger    *zap.Logger
	Telemetry Telemetry
	// Emit receives events; it is called without the engine's lock held.
	Emit func(context.Context, []Event)
	// Observer, when set, sees every closed pod-span; with learn.enabled the engine's own
	// learner takes its place.
	Observer SpanObserver
	// Now is the wall clock, replaceable in tests.
	Now func() time.Time
	// Baseline, when set, is used instead of loading cfg.Baseline.Path.
	Baseline *baseline.Reloader
	// State, when set with learn.enabled, keeps the learning state across restarts.
	State StateStore
}

// Engine is safe for concurrent use.
type Engine struct {
	cfg       Config
	set       Settings
	tel       Telemetry
	namer     serviceNamer
	exclude   exclusions
	baselines *baseline.Reloader
	learner   *learn.Learner
	observer  SpanObserver

	mu      sync.Mutex
	pods    map[podID]*pod
	windows windows
	batch   tally
	pending []Event

	span         int64
	lateness     int64
	newest       int64 // newest point time seen, Unix ns
	seen         bool
	watermark    int64 // spans ending at or before it are complete
	sweptThrough int64 // every span ending at or before it has been scored
	lastArrival  time.Time
	arrivalMark  int64 // watermark when data last arrived, the base of the idle flush
	warned       [numDropReasons]bool

	stop chan struct{}
	done chan struct{}
}

// New builds an engine and loads its baseline; a bad baseline file is an error here.
func New(cfg Config, set Settings) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if set.Logger == nil {
		set.Logger = zap.NewNop()
	}
	if set.Emit == nil {
		return nil, errors.New("engine: Settings.Emit is required")
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	namer, err := newServiceNamer(cfg.ServicePattern)
	if err != nil {
		return nil, fmt.Errorf("service_pattern: %w", err)
	}
	exclude, err := compileExclusions(cfg.Exclude)
	if err != nil {
		return nil, fmt.Errorf("exclude: %w", err)
	}
	reloader := set.Baseline
	switch {
	case reloader != nil:
	case cfg.Learn.Enabled:
		// A new cluster learns first: its baseline file may only appear later.
		reloader, err = baseline.NewReloaderAwaiting(cfg.Baseline.Path, baseline.MaxBytes(cfg.Baseline.MaxBytes))
	default:
		reloader, err = baseline.NewReloader(cfg.Baseline.Path, baseline.MaxBytes(cfg.Baseline.MaxBytes))
	}
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:       cfg,
		set:       set,
		tel:       set.Telemetry.withDefaults(),
		namer:     namer,
		exclude:   exclude,
		baselines: reloader,
		pods:      map[podID]*pod{},
		windows:   newWindows(cfg.Window, cfg.MaxAnomalies),
		span:      int64(cfg.Span),
		lateness:  int64(cfg.Lateness),
		observer:  set.Observer,
	}
	if cfg.Learn.Enabled {
		e.learner = NewLearner(cfg)
		e.observer = e.learner
	}
	e.tel.BaselineKeys.Record(context.Background(), int64(reloader.Current().Len()))
	return e, nil
}

// Baseline returns the baseline in use.
func (e *Engine) Baseline() *baseline.Baseline { return e.baselines.Current() }

// ConsumeMetrics feeds one batch; it never modifies md.
func (e *Engine) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) {
	e.mu.Lock()
	newest, any := e.ingest(md)
	if any {
		if !e.seen || newest > e.newest {
			e.newest, e.seen = newest, true
		}
		if wm := e.newest - e.lateness; wm > e.watermark {
			e.watermark = wm
		}
		e.sweep()
		e.lastArrival, e.arrivalMark = e.set.Now(), e.watermark
	}
	e.unlockAndEmit(ctx)
}

// Tick is the wall-clock idle flush: once no data has come for idle_flush, data time moves on
// with the wall clock, so that the last spans and windows close when traffic stops.
func (e *Engine) Tick(ctx context.Context) {
	if e.cfg.IdleFlush <= 0 {
		return
	}
	e.mu.Lock()
	now := e.set.Now()
	if e.seen && now.Sub(e.lastArrival) >= e.cfg.IdleFlush {
		if wm := e.arrivalMark + int64(now.Sub(e.lastArrival)); wm > e.watermark {
			e.watermark = wm
			e.sweep()
		}
	}
	e.unlockAndEmit(ctx)
}

// Flush treats the input as ended: the span holding the newest point is complete, and every
// window ending by then closes. A window still open in data time is not reported.
func (e *Engine) Flush(ctx context.Context) {
	e.mu.Lock()
	if e.seen {
		if end := floorTo(e.newest, e.span) + e.span; end > e.watermark {
			e.watermark = end
		}
		e.sweep()
	}
	e.unlockAndEmit(ctx)
}

// ReloadBaseline re-reads the baseline file if it changed; a failure keeps the last good one.
func (e *Engine) ReloadBaseline(ctx context.Context) error {
	changed, err := e.baselines.Check()
	return e.baselineChecked(ctx, changed, err)
}

// baselineChecked logs and counts the outcome of a baseline check.
func (e *Engine) baselineChecked(ctx context.Context, changed bool, err error) error {
	if err != nil {
		e.tel.BaselineReloadFailures.Add(ctx, 1)
		e.set.Logger.Error("Baseline reload failed; keeping the last good baseline", zap.Error(err))
		return err
	}
	if changed {
		b := e.baselines.Current()
		e.tel.BaselineKeys.Record(ctx, int64(b.Len()))
		e.set.Logger.Info("Baseline reloaded", zap.String("file", b.File()), zap.Int("keys", b.Len()))
	}
	return nil
}

// Start runs the baseline reload and the idle flush until Shutdown. The baseline is read in a
// goroutine of its own, so a slow read never holds up closing spans, nor Shutdown.
func (e *Engine) Start() {
	e.restoreLearning(context.Background())
	e.stop, e.done = make(chan struct{}), make(chan struct{})
	if d := e.cfg.Baseline.ReloadInterval; d > 0 {
		go e.baselines.Run(e.stop, d, func(changed bool, err error) { _ = e.baselineChecked(context.Background(), changed, err) })
	}
	go e.run()
}

func (e *Engine) run() {
	defer close(e.done)
	ctx := context.Background()
	var idle, learnWrite <-chan time.Time
	if d := e.cfg.IdleFlush; d > 0 {
		t := time.NewTicker(max(d/4, 10*time.Millisecond))
		defer t.Stop()
		idle = t.C
	}
	if e.learner != nil {
		t := time.NewTicker(e.cfg.Learn.WriteInterval)
		defer t.Stop()
		learnWrite = t.C
	}
	for {
		select {
		case <-e.stop:
			return
		case <-idle:
			e.Tick(ctx)
		case <-learnWrite:
			_ = e.WriteLearned(ctx)
		}
	}
}

// Shutdown stops the background loop, flushes what is complete in data time and writes
// what was learned. It does not wait for a baseline read in progress: that goroutine ends
// when its read returns and reports nothing.
func (e *Engine) Shutdown(ctx context.Context) {
	if e.stop != nil {
		close(e.stop)
		<-e.done
		e.stop = nil
	}
	e.Flush(ctx)
	if e.learner != nil {
		e.learner.Flush()
		_ = e.WriteLearned(ctx)
	}
}

// Learner returns the baseline learner, or nil when learn.enabled is off.
func (e *Engine) Learner() *learn.Learner { return e.learner }

// unlockAndEmit records the batch's telemetry, releases the lock taken by the caller and hands
// out the pending events, so that Emit never runs under the engine's lock.
func (e *Engine) unlockAndEmit(ctx context.Context) {
	e.batch.record(ctx, &e.tel)
	e.tel.PodsTracked.Record(ctx, int64(len(e.pods)))
	events := e.takePending()
	e.mu.Unlock()
	e.emit(ctx, events)
}

func (e *Engine) takePending() []Event {
	events := e.pending
	e.pending = nil
	sortEvents(events)
	return events
}

func (e *Engine) emit(ctx context.Context, events []Event) {
	if len(events) == 0 {
		return
	}
	e.tel.EventsEmitted.Add(ctx, int64(len(events)))
	e.set.Emit(ctx, events)
}

// sweep scores every span that the watermark has passed, closes finished windows and forgets
// idle pods. It runs the O(pods) loop only when the watermark crosses a span boundary.
func (e *Engine) sweep() {
	through := floorTo(e.watermark, e.span)
	if through <= e.sweptThrough {
		return
	}
	expireBefore := through - int64(e.cfg.Limits.PodExpiry)
	b := e.baselines.Current()
	for id, p := range e.pods {
		if p.spanOpen && p.spanStart+e.span <= through {
			e.closeSpan(p, b)
		}
		if !p.spanOpen && p.lastSeen < expireBefore {
			delete(e.pods, id)
		}
	}
	e.sweptThrough = through
	e.pending = e.windows.closeThrough(through, e.cfg.CountThreshold, e.pending)
	if e.observer != nil {
		e.observer.Advance(time.Unix(0, through).UTC())
	}
}

// closeSpan scores the pod's open span: the search's per-span stats, lookup and foreach.
func (e *Engine) closeSpan(p *pod, b *baseline.Baseline) {
	start := p.spanStart
	in, out, hasIn, hasOut := p.takeSpan()
	if e.observer != nil {
		e.observer.Observe(p.key, p.ref, time.Unix(0, start).UTC(), in, out, hasIn, hasOut)
	}
	if !hasIn || !hasOut {
		return // the search's ratio is null without both directions
	}
	e.batch.scored++
	stats, ok := b.Lookup(p.key)
	if !ok {
		return
	}
	v := score(stats, b.Signals(), computeSignals(in, out), e.cfg.StdevMultiplier)
	if v.text == "" {
		return
	}
	e.batch.anomalous++
	wstart := e.windows.startOf(start)
	g := groupKey{cluster: p.cluster, node: p.node, pod: p.name, namespace: p.namespace, service: p.service}
	c := e.windows.add(wstart, g, &v)
	if e.cfg.Mode == ModeImmediate && !c.emitted && c.count > e.cfg.CountThreshold {
		c.emitted = true
		e.pending = append(e.pending, e.windows.event(wstart, g, c, start))
	}
}
