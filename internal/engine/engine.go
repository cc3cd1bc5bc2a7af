// Package engine is the detection as a streaming computation: per-pod byte counters in, pod-spans
// scored against a per-service baseline, an Event out when a pod keeps misbehaving. It knows
// nothing of collector pipelines.
package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// RateObserver, when a SpanObserver implements it, also gets each closed pod-span's rates,
// bytes/s, which unlike bytes per span do not depend on the scrape interval.
type RateObserver interface {
	ObserveRates(key, pod string, spanStart time.Time, inBps, outBps float64, covered time.Duration)
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
	// State, when set, keeps the detection state and the learning state across restarts.
	State StateStore
	// DataTimeOnly says there is no wall clock (replay, baseline build): a point is judged too
	// far ahead against its source's data time, not against Now.
	DataTimeOnly bool
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
	pods    podIndex
	next    podCursor          // where findPod looks first
	sources map[string]*source // by node: each has its own data time
	peers   peerCounts
	// recommended is the recommended profile's scoring; nil in parity.
	recommended *recommended
	batch       tally
	pending     []Event

	span, lateness, skew int64
	batchSeq             uint64    // tells the sources one batch touched from those of earlier ones
	touched              []*source // the sources the current batch gave usable points
	observedThrough      int64     // what the observer was last told is complete
	slowest              slowest
	peersForgotten       int64              // peer counts of windows before it are forgotten
	genOf                *baseline.Baseline // the baseline of generation gen (see baselineGen)
	gen                  uint32
	warned               [numDropReasons]bool

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
		pods:      newPodIndex(),
		sources:   map[string]*source{},
		peers:     peerCounts{},
		span:      int64(cfg.Span),
		lateness:  int64(cfg.Lateness),
		skew:      int64(cfg.MaxClockSkew),
		observer:  set.Observer,
	}
	if cfg.Learn.Enabled {
		e.learner = NewLearner(cfg)
		e.observer = e.learner
	}
	if cfg.Profile == ProfileRecommended {
		r := newRecommended(cfg.Recommended)
		e.recommended = &r
	}
	e.tel.BaselineKeys.Record(context.Background(), int64(reloader.Current().Len()))
	return e, nil
}

// Baseline returns the baseline in use.
func (e *Engine) Baseline() *baseline.Baseline { return e.baselines.Current() }

// ConsumeMetrics feeds one batch; it never modifies md.
func (e *Engine) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) {
	e.mu.Lock()
	now := e.set.Now()
	e.batchSeq++
	e.ingest(md, now)
	for _, src := range e.touched {
		src.lastArrival, src.arrivalNewest = now, src.newest
		swept, closed := src.swept, src.windows.closedThrough
		e.sweep(src)
		e.slowest.moved(swept, src.swept, closed, src.windows.closedThrough)
	}
	e.touched = e.touched[:0]
	if e.slowest.stale {
		e.advanceObserver()
	}
	e.unlockAndEmit(ctx)
}

// Tick is the wall-clock idle flush. Once a source has sent nothing for idle_flush, its data
// time moves on with the wall clock, idle_flush behind it: a span or window of a quiet source
// closes when its end + lateness + idle_flush has passed on the source's clock, so that the
// backlog an agent's exporter delivers when it comes back still counts.
func (e *Engine) Tick(ctx context.Context) {
	if e.cfg.IdleFlush <= 0 {
		return
	}
	e.mu.Lock()
	now := e.set.Now()
	for _, src := range e.sortedSources() {
		quiet := now.Sub(src.lastArrival)
		if !src.seen {
			// A node that never sent a point that moves time (only first scrapes, or points
			// that were all dropped) has nothing to score: forget it after pod_expiry, or its
			// pods would hold max_pods slots forever.
			if quiet >= e.cfg.Limits.PodExpiry {
				e.forgetSource(src)
			}
			continue
		}
		if quiet < e.cfg.IdleFlush {
			continue
		}
		if wm := src.arrivalNewest - e.lateness + int64(quiet-e.cfg.IdleFlush); wm > src.watermark {
			src.watermark = wm
			e.sweep(src)
			e.slowest.stale = true
		}
	}
	e.advanceObserver()
	e.unlockAndEmit(ctx)
}

// Flush treats the input as ended: for each source the span holding its newest point is
// complete, and every window ending by then closes. A window still open in data time is not
// reported.
func (e *Engine) Flush(ctx context.Context) {
	e.mu.Lock()
	for _, src := range e.sortedSources() {
		if !src.seen {
			continue
		}
		if end := floorTo(src.newest, e.span) + e.span; end > src.watermark {
			src.watermark = end
		}
		e.sweep(src)
	}
	e.slowest.stale = true // sweeps outside ConsumeMetrics are not counted in slowest
	e.advanceObserver()
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

// Start restores the saved state and runs the baseline reload, the idle flush and the
// checkpoints until Shutdown. The baseline is read in a goroutine of its own, so a slow read
// never holds up closing spans, nor Shutdown.
func (e *Engine) Start() {
	e.restore(context.Background())
	e.stop, e.done = make(chan struct{}), make(chan struct{})
	if d := e.cfg.Baseline.ReloadInterval; d > 0 {
		go e.baselines.Run(e.stop, d, func(changed bool, err error) { _ = e.baselineChecked(context.Background(), changed, err) })
	}
	go e.run()
}

func (e *Engine) run() {
	defer close(e.done)
	ctx := context.Background()
	var idle, learnWrite, checkpoint <-chan time.Time
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
	if e.set.State != nil {
		t := time.NewTicker(e.cfg.CheckpointInterval)
		defer t.Stop()
		checkpoint = t.C
	}
	for {
		select {
		case <-e.stop:
			return
		case <-idle:
			e.Tick(ctx)
		case <-learnWrite:
			_ = e.WriteLearned(ctx)
		case <-checkpoint:
			_ = e.Checkpoint(ctx)
		}
	}
}

// Shutdown stops the background loop and writes what was learned. With a state store it saves
// and closes nothing, since the scrape round in progress arrives after the restart; without one
// it flushes what is complete, or that would be lost. A baseline read in progress ends on its own.
func (e *Engine) Shutdown(ctx context.Context) {
	if e.stop != nil {
		close(e.stop)
		<-e.done
		e.stop = nil
	}
	if e.set.State == nil {
		e.Flush(ctx)
	}
	if e.learner != nil {
		e.learner.Flush()
		_ = e.WriteLearned(ctx)
	}
	_ = e.Checkpoint(ctx)
}

// Learner returns the baseline learner, or nil when learn.enabled is off.
func (e *Engine) Learner() *learn.Learner { return e.learner }

// unlockAndEmit records the batch's telemetry, releases the lock taken by the caller and hands
// out the pending events, so that Emit never runs under the engine's lock.
func (e *Engine) unlockAndEmit(ctx context.Context) {
	e.batch.record(ctx, &e.tel)
	e.tel.PodsTracked.Record(ctx, int64(e.pods.len()))
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

// sweep scores the source's spans that its watermark has passed, closes its finished windows and
// forgets its idle pods. It runs the O(pods) loop only when the watermark crosses a span boundary,
// or when a backlog brought points for spans it had passed already.
func (e *Engine) sweep(src *source) {
	through := floorTo(src.watermark, e.span)
	if through <= src.swept && !src.catchUp {
		return
	}
	through = max(through, src.swept)
	src.catchUp = false
	expireBefore := through - int64(e.cfg.Limits.PodExpiry)
	b := e.baselines.Current()
	kept := src.pods[:0]
	for _, p := range src.pods {
		if p.pending > 0 {
			e.closeSpans(p, through, b)
		}
		if p.pending == 0 && p.lastSeen < expireBefore {
			e.pods.remove(p)
			continue
		}
		p.at = int32(len(kept))
		kept = append(kept, p)
	}
	clear(src.pods[len(kept):]) // let the forgotten pods go
	src.pods = kept
	src.swept = through
	first := len(e.pending)
	e.pending = src.windows.closeThrough(through, e.pending)
	e.finishEvents(first, b)
	if len(src.pods) == 0 && len(src.windows.open) == 0 {
		delete(e.sources, src.name)
		e.slowest.stale = true
	}
}

// sortedSources returns the sources by name, so that what one Tick or Flush closes comes out in
// the same order (and with the same peer counts) every time.
func (e *Engine) sortedSources() []*source {
	out := make([]*source, 0, len(e.sources))
	for _, src := range e.sources {
		out = append(out, src)
	}
	slices.SortFunc(out, func(a, b *source) int { return strings.Compare(a.name, b.name) })
	return out
}

// forgetSource drops a source and its pods.
func (e *Engine) forgetSource(src *source) {
	for _, p := range src.pods {
		e.pods.remove(p)
	}
	src.pods = nil // a cursor still on src finds nothing there
	delete(e.sources, src.name)
	e.slowest.stale = true
}

// advanceObserver tells the learner which spans are complete everywhere (those every source has
// scored) and forgets the peer counts of windows every source has closed.
func (e *Engine) advanceObserver() {
	if len(e.sources) == 0 {
		return
	}
	if !e.slowest.find(e.sources) {
		return
	}
	through, closed := e.slowest.swept.at, e.slowest.closed.at
	if closed > e.peersForgotten { // a map walk: only when the slowest source closed a window
		e.peersForgotten = closed
		e.peers.forgetBefore(closed)
	}
	if e.observer != nil && through > e.observedThrough {
		e.observedThrough = through
		e.observer.Advance(time.Unix(0, through).UTC())
	}
}

// closeSpans scores the pod's buffered spans that end at or before through, oldest first.
func (e *Engine) closeSpans(p *pod, through int64, b *baseline.Baseline) {
	first, ok := p.oldest, p.pending > 0
	for ok && first < through { // through is a span boundary: first's span ends after it
		start := p.scoredThrough // most often the next span: no division
		if first < start || first >= start+e.span {
			start = floorTo(first, e.span)
		}
		var sums podSpan
		taken := 0
		all := p.allSeries()
		ok = false // the oldest point left, found while taking
		for i := range all {
			s := &all[i]
			taken += s.takeSpan(start+e.span, e.span, &sums)
			if s.count > 0 {
				if t := s.firstTime(); !ok || t < first {
					first, ok = t, true
				}
			}
		}
		if taken == 0 {
			return // cannot happen with the timestamps ingest and restore take; never loop on it
		}
		p.pending -= int32(taken)
		p.oldest = first
		p.scoredThrough = start + e.span
		e.closeSpan(p, start, sums, b)
	}
}

// closeSpan scores one pod-span: the search's per-span stats, lookup and foreach, or the
// recommended profile's rates against the pod's usual ones.
func (e *Engine) closeSpan(p *pod, start int64, sp podSpan, b *baseline.Baseline) {
	if !sp.hasIn && !sp.hasOut {
		return // only priming points: nothing was measured
	}
	if e.observer != nil {
		e.observer.Observe(p.key(), p.ref, time.Unix(0, start).UTC(), sp.in, sp.out, sp.hasIn, sp.hasOut)
		if ro, ok := e.observer.(RateObserver); ok && sp.hasIn && sp.hasOut && sp.covered > 0 {
			secs := float64(sp.covered) / float64(time.Second)
			ro.ObserveRates(p.key(), p.ref, time.Unix(0, start).UTC(), sp.in/secs, sp.out/secs, time.Duration(sp.covered))
		}
	}
	if !sp.hasIn || !sp.hasOut || p.excluded {
		return // the search's ratio is null without both directions
	}
	var v verdict
	row := p.row(b, e.baselineGen(b))
	if e.recommended != nil {
		var ok bool
		if v, ok = e.recommended.score(b, row, p, start+e.span, sp); !ok {
			return
		}
	} else {
		stats, ok := b.RowStats(row)
		if !ok {
			e.batch.scored++
			e.countPeer(p, start)
			return
		}
		v = score(stats, b.Signals(), sp.in, sp.out, e.cfg.StdevMultiplier)
	}
	e.batch.scored++
	peers := e.countPeer(p, start)
	if v.text == "" {
		return
	}
	e.batch.anomalous++
	w := &p.src.windows
	wstart := w.startOf(start)
	g := p.group()
	c := w.add(wstart, g, &v, sp)
	qualified := c.count > e.cfg.CountThreshold
	if e.recommended != nil {
		qualified = p.profile().trail.Add(time.Unix(0, start+e.span), time.Duration(sp.covered), e.recommended.rule)
	}
	if !qualified || c.qualified {
		return
	}
	c.qualified = true
	peers.anomalous++
	if e.cfg.Mode == ModeImmediate {
		c.emitted = true
		first := len(e.pending)
		e.pending = append(e.pending, w.event(wstart, g, c, start))
		e.finishEvents(first, b)
	}
}

// baselineGen numbers the baselines the engine has scored with: a pod remembers its key's row
// with the number of the baseline it was looked up in (4 bytes, not an 8-byte pointer). It would
// wrap after 4 billion baseline changes.
func (e *Engine) baselineGen(b *baseline.Baseline) uint32 {
	if b != e.genOf {
		e.genOf = b
		e.gen++
	}
	return e.gen
}

// countPeer counts the pod once among its service's pods scored in the span's window. The pod
// keeps its window's count, so a span costs a map lookup only when the pod enters a new window.
func (e *Engine) countPeer(p *pod, start int64) *peerCount {
	if c := p.peers; c != nil && start >= c.window && start < c.window+p.src.windows.length {
		return c // still in the window it was counted in
	}
	p.peers = e.peers.of(p.src.windows.startOf(start), p.key())
	p.peers.total++
	return p.peers
}
