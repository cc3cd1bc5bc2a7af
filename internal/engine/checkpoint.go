package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// The detection state is saved per source (node) under "detect/<node>", next to the learner's
// "day/..." entries, so that one damaged entry costs one node's open windows, not all.
const (
	detectPrefix         = "detect/"
	detectionStateFormat = 1
)

// sourceState is one source's detection state: its data time, its pods' counters and buffered
// points (so no span is lost to re-priming after a restart) and its open windows.
type sourceState struct {
	Format int    `json:"format"`
	Source string `json:"source"`
	// Span and Window must match the config: spans and windows of another length do not resume.
	Span      int64         `json:"span_ns"`
	Window    int64         `json:"window_ns"`
	Newest    int64         `json:"newest"`
	Seen      bool          `json:"seen"`
	Watermark int64         `json:"watermark"`
	Swept     int64         `json:"swept"`
	Closed    int64         `json:"windows_closed_through"`
	Pods      []podState    `json:"pods"`
	Windows   []windowState `json:"windows,omitempty"`
}

type podState struct {
	UID           string `json:"uid,omitempty"`
	Cluster       string `json:"cluster"`
	Namespace     string `json:"namespace,omitempty"`
	Name          string `json:"name"`
	ScoredThrough int64  `json:"scored_through"`
	LastSeen      int64  `json:"last_seen"`
	// PeerWindow is the window the pod was last counted in among its service's pods.
	PeerWindow  int64 `json:"peer_window,omitempty"`
	PeerCounted bool  `json:"peer_counted,omitempty"`
	// The recommended profile's per-pod state: the anomalous spans of the trailing window, and
	// each direction's per-minute recent level.
	Trail     []profile.TrailSpan  `json:"trail,omitempty"`
	RecentIn  []profile.RecentSlot `json:"recent_in,omitempty"`
	RecentOut []profile.RecentSlot `json:"recent_out,omitempty"`
	Series    []seriesState        `json:"series"`
}

type seriesState struct {
	Interface string         `json:"interface"`
	Inbound   bool           `json:"inbound"`
	Primed    bool           `json:"primed,omitempty"`
	Anchor    readingState   `json:"anchor"`
	Buffer    []readingState `json:"buffer,omitempty"`
}

// readingState is [timestamp, start timestamp, value, kind].
type readingState struct {
	Ts, Start int64
	V         float64
	Kind      pointKind
}

func (r reading) state(kind pointKind) readingState {
	return readingState{Ts: r.ts, Start: r.start, V: r.v, Kind: kind}
}

func (r readingState) reading() reading {
	return reading{ts: r.Ts, start: r.Start, v: r.V}
}

func (r readingState) MarshalJSON() ([]byte, error) {
	return json.Marshal([4]any{r.Ts, r.Start, r.V, r.Kind})
}

func (r *readingState) UnmarshalJSON(b []byte) error {
	var raw [4]json.Number
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	var err1, err2, err3, err4 error
	var kind int64
	r.Ts, err1 = raw[0].Int64()
	r.Start, err2 = raw[1].Int64()
	r.V, err3 = raw[2].Float64()
	kind, err4 = raw[3].Int64()
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return fmt.Errorf("reading %s: %w", b, err)
	}
	if kind < 0 || kind > int64(gaugePoint) {
		return fmt.Errorf("reading %s: unknown kind %d", b, kind)
	}
	r.Kind = pointKind(kind)
	return nil
}

type windowState struct {
	Start  int64        `json:"start"`
	Groups []groupState `json:"groups"`
	// ShiftReported lists the services (keys) whose service-shift record is out for the window.
	ShiftReported []string `json:"shift_reported,omitempty"`
}

type groupState struct {
	Cluster   string             `json:"cluster"`
	Pod       string             `json:"pod"`
	Namespace string             `json:"namespace,omitempty"`
	Service   string             `json:"service"`
	Count     int                `json:"count"`
	Anomalies []string           `json:"anomalies"`
	MaxZ      map[string]float64 `json:"max_z,omitempty"`
	Qualified bool               `json:"qualified,omitempty"`
	// The window's most anomalous span, for the event's rates.
	PeakZ   float64 `json:"peak_z,omitempty"`
	PeakIn  float64 `json:"peak_in,omitempty"`
	PeakOut float64 `json:"peak_out,omitempty"`
	Emitted bool    `json:"emitted,omitempty"`
}

// snapshot copies the detection state out; the caller holds the lock, encoding happens outside it.
func (e *Engine) snapshot() []sourceState {
	out := make([]sourceState, 0, len(e.sources))
	for _, src := range e.sources {
		st := sourceState{
			Format: detectionStateFormat, Source: src.name, Span: e.span, Window: src.windows.length,
			Newest: src.newest, Seen: src.seen, Watermark: src.watermark, Swept: src.swept,
			Closed: src.windows.closedThrough, Pods: make([]podState, 0, len(src.pods)),
		}
		for _, p := range src.pods {
			ps := podState{UID: p.uid(), Cluster: p.cluster(), Namespace: p.namespace(), Name: p.name(),
				ScoredThrough: p.scoredThrough, LastSeen: p.lastSeen, Series: make([]seriesState, len(p.allSeries()))}
			if p.peers != nil {
				ps.PeerWindow, ps.PeerCounted = p.peers.window, true
			}
			if rec := p.profileState(); rec != nil {
				ps.Trail = rec.trail.Snapshot()
				ps.RecentIn, ps.RecentOut = rec.recentIn.Snapshot(), rec.recentOut.Snapshot()
			}
			for i, all := 0, p.allSeries(); i < len(all); i++ {
				s := &all[i]
				anchor := reading{} // a series not primed has only its points' start there
				if s.primed {
					anchor = s.anchor
				}
				ss := seriesState{Interface: p.iface(s), Inbound: s.inbound, Primed: s.primed, Anchor: anchor.state(s.kind)}
				for r := range s.points() {
					ss.Buffer = append(ss.Buffer, r.state(s.kind))
				}
				ps.Series[i] = ss
			}
			st.Pods = append(st.Pods, ps)
		}
		for start, groups := range src.windows.open {
			ws := windowState{Start: start}
			for g, c := range groups {
				gs := groupState{Cluster: g.cluster, Pod: g.pod, Namespace: g.namespace, Service: g.service,
					Count: c.count, Anomalies: append([]string(nil), c.anomalies...), Qualified: c.qualified, Emitted: c.emitted,
					PeakZ: c.peakZ, PeakIn: c.peakIn, PeakOut: c.peakOut}
				for s, ok := range c.flagged {
					if ok {
						if gs.MaxZ == nil {
							gs.MaxZ = map[string]float64{}
						}
						gs.MaxZ[baseline.Signal(s).String()] = c.maxZ[s]
					}
				}
				ws.Groups = append(ws.Groups, gs)
			}
			for k, c := range e.peers {
				if k.window == start && c.shiftReported {
					ws.ShiftReported = append(ws.ShiftReported, k.key)
				}
			}
			st.Windows = append(st.Windows, ws)
		}
		out = append(out, st)
	}
	return out
}

// Checkpoint saves the detection state and the learning state to the state store, if there is
// one. A failure is logged, counted and returned; detection goes on.
func (e *Engine) Checkpoint(ctx context.Context) error {
	if e.set.State == nil {
		return nil
	}
	e.mu.Lock()
	snap := e.snapshot()
	e.mu.Unlock()
	entries := map[string][]byte{}
	if e.learner != nil {
		days, err := e.learner.MarshalDays()
		if err != nil {
			return e.checkpointFailed(ctx, err)
		}
		for name, data := range days {
			entries[name] = data
		}
	}
	for i := range snap {
		data, err := json.Marshal(&snap[i])
		if err != nil {
			return e.checkpointFailed(ctx, err)
		}
		entries[detectPrefix+snap[i].Source] = data
	}
	if err := e.set.State.Save(ctx, entries); err != nil {
		return e.checkpointFailed(ctx, err)
	}
	return nil
}

func (e *Engine) checkpointFailed(ctx context.Context, err error) error {
	e.tel.LearnWriteFailures.Add(ctx, 1)
	e.set.Logger.Error("Cannot save the detection state", zap.Error(err))
	return err
}

// restore loads the saved state; a damaged or incompatible entry is logged, counted and skipped.
func (e *Engine) restore(ctx context.Context) {
	if e.set.State == nil {
		return
	}
	entries, err := e.set.State.Load(ctx)
	if err != nil {
		e.tel.StateEntriesSkipped.Add(ctx, 1)
		e.set.Logger.Error("Cannot load the saved state; starting afresh", zap.Error(err))
		return
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	sort.Strings(names)
	days, sources := 0, 0
	for _, name := range names {
		var err error
		switch {
		case strings.HasPrefix(name, detectPrefix):
			if err = e.restoreSource(name, entries[name]); err == nil {
				sources++
			}
		case e.learner != nil:
			if err = e.learner.RestoreDay(name, entries[name]); err == nil {
				days++
			}
		default:
			continue // learning state while learning is off: kept in storage, not used
		}
		if err != nil {
			e.tel.StateEntriesSkipped.Add(ctx, 1)
			e.set.Logger.Error("Skipping a saved state entry that cannot be restored", zap.String("entry", name), zap.Error(err))
		}
	}
	e.set.Logger.Info("State restored", zap.Int("sources", sources), zap.Int("learning_days", days))
}

// restoreSource checks one source's entry whole before taking any of it.
func (e *Engine) restoreSource(name string, data []byte) error {
	var st sourceState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("damaged: %w", err)
	}
	switch {
	case st.Format != detectionStateFormat:
		return fmt.Errorf("format %d, this build reads %d", st.Format, detectionStateFormat)
	case st.Span != e.span || st.Window != int64(e.cfg.Window):
		return fmt.Errorf("saved with span %s and window %s, configured %s and %s: its spans and windows do not resume",
			time.Duration(st.Span), time.Duration(st.Window), e.cfg.Span, e.cfg.Window)
	case name != detectPrefix+st.Source || !validNodeName(st.Source):
		return fmt.Errorf("names source %q", st.Source)
	case !validTime(st.Newest) || !validTime(st.Watermark+int64(e.cfg.Lateness)) || !validTime(st.Swept) || !validTime(st.Closed):
		return errors.New("times out of range")
	case st.Swept%e.span != 0 || st.Closed%st.Window != 0:
		return errors.New("times not on span or window boundaries") // ingest compares times with them as boundaries
	case len(st.Pods) > e.cfg.Limits.MaxPods || len(st.Windows) > maxSavedWindows:
		return fmt.Errorf("%d pods and %d windows: more than the limits allow", len(st.Pods), len(st.Windows))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sources[st.Source] != nil {
		return fmt.Errorf("source %q restored twice", st.Source)
	}
	src := newSource(st.Source, &e.cfg)
	src.newest, src.seen, src.watermark, src.swept = st.Newest, st.Seen, st.Watermark, st.Swept
	src.windows.closedThrough = st.Closed
	src.lastArrival, src.arrivalNewest = e.set.Now(), st.Newest // quiet from now, not from the shutdown
	pods := make([]*pod, 0, len(st.Pods))
	for i := range st.Pods {
		p, err := e.restorePod(&st.Pods[i], src)
		if err != nil {
			return fmt.Errorf("pod %d: %w", i, err)
		}
		if p != nil {
			pods = append(pods, p)
		}
	}
	for _, ws := range st.Windows {
		if err := e.restoreWindow(&src.windows, ws, st.Source); err != nil {
			return fmt.Errorf("window %d: %w", ws.Start, err)
		}
	}
	if e.pods.len()+len(pods) > e.cfg.Limits.MaxPods {
		return fmt.Errorf("%d pods would pass limits.max_pods (%d)", e.pods.len()+len(pods), e.cfg.Limits.MaxPods)
	}
	saved := newPodIndex()
	for _, p := range pods {
		if saved.has(p) {
			return fmt.Errorf("pod %s is saved twice", p.ref)
		}
		saved.add(p)
		if e.pods.has(p) {
			return fmt.Errorf("pod %s is saved in two sources", p.ref)
		}
	}
	for _, p := range pods {
		src.add(p)
		e.pods.add(p)
		if p.peers != nil { // the window it was counted in, alone till now
			p.peers = e.peers.of(p.peers.window, p.key())
			p.peers.total++ // the peer counts are the sums of the pods' parts
		}
	}
	for start, groups := range src.windows.open {
		for g, c := range groups {
			if c.qualified {
				e.peers.of(start, g.cluster+":"+g.service).anomalous++
			}
		}
	}
	e.sources[st.Source] = src
	e.slowest.stale = true
	return nil
}

// maxAnomalyText bounds a restored anomaly text: the engine's own are a few hundred bytes.
const maxAnomalyText = 4096

// maxSavedWindows bounds the open windows one saved node may bring back.
const maxSavedWindows = 1000

// restorePod rebuilds a pod with the current config (service pattern, exclusions); nil means
// the pod is excluded now and holds no state.
func (e *Engine) restorePod(ps *podState, src *source) (*pod, error) {
	if !validPodName(ps.Name) || !validNamespace(ps.Namespace) || !validClusterName(ps.Cluster) || !validUID(ps.UID) {
		return nil, fmt.Errorf("invalid names %q/%q/%q", ps.Cluster, ps.Namespace, ps.Name)
	}
	if !validTime(ps.ScoredThrough) || !validTime(ps.LastSeen) || !validTime(ps.PeerWindow) {
		return nil, errors.New("times out of range")
	}
	if ps.ScoredThrough%e.span != 0 || ps.PeerWindow%int64(e.cfg.Window) != 0 {
		return nil, errors.New("times not on span or window boundaries")
	}
	if len(ps.Series) > 2*e.cfg.Limits.MaxInterfaces {
		return nil, fmt.Errorf("%d series, more than limits.max_interfaces allows", len(ps.Series))
	}
	g := groupKey{cluster: ps.Cluster, node: src.name, pod: ps.Name, namespace: ps.Namespace, service: e.namer.service(ps.Name)}
	p := newPod(ps.UID, g, src)
	p.scoredThrough, p.lastSeen = ps.ScoredThrough, ps.LastSeen
	if ps.PeerCounted {
		p.peers = &peerCount{window: ps.PeerWindow} // the engine's count for it once the source is restored
	}
	if e.exclude.match(g) {
		if e.observer == nil || e.cfg.Learn.Exclude {
			return nil, nil
		}
		p.excluded = true
	}
	for _, s := range ps.Trail {
		if !validTime(s.End.UnixNano()) || s.Credit < 0 || s.Credit > time.Hour {
			return nil, errors.New("trail out of range")
		}
	}
	if len(ps.Trail) > 0 || ps.RecentIn != nil || ps.RecentOut != nil {
		pp := p.profile()
		pp.trail.Restore(ps.Trail)
		if !pp.recentIn.Restore(ps.RecentIn) || !pp.recentOut.Restore(ps.RecentOut) {
			return nil, errors.New("recent level not a byte count")
		}
	}
	for _, ss := range ps.Series {
		if err := e.restoreSeries(p, ss); err != nil {
			return nil, fmt.Errorf("series %q: %w", ss.Interface, err)
		}
	}
	return p, nil
}

// restoreSeries gives a pod a saved series. The kind is each reading's: a series saved with
// points of several kinds (as one series held them before) becomes one series per kind.
func (e *Engine) restoreSeries(p *pod, ss seriesState) error {
	if len(ss.Buffer) > maxBuffered {
		return fmt.Errorf("%d buffered points, more than %d", len(ss.Buffer), maxBuffered)
	}
	if !validReading(ss.Anchor) {
		return fmt.Errorf("bad counter value %v", ss.Anchor.V)
	}
	get := func(kind pointKind) (*series, error) {
		s := p.seriesFor(ss.Interface, ss.Inbound, kind, 2*e.cfg.Limits.MaxInterfaces)
		if s == nil {
			return nil, errors.New("more series than limits.max_interfaces allows")
		}
		return s, nil
	}
	if ss.Primed { // only a counter's series is primed, by its anchor
		s, err := get(cumulativePoint)
		if err != nil {
			return err
		}
		if s.primed || s.count > 0 {
			return errors.New("saved twice")
		}
		s.primed, s.anchor = true, ss.Anchor.reading()
		p.lastSeen = max(p.lastSeen, s.anchor.ts) // offer's latest hint trusts lastSeen
	}
	restored := map[*series]bool{}
	for i, r := range ss.Buffer {
		if !validReading(r) || i > 0 && r.Ts <= ss.Buffer[i-1].Ts {
			return fmt.Errorf("buffered point %d out of order or not a counter value", i)
		}
		s, err := get(r.Kind)
		if err != nil {
			return err
		}
		if !restored[s] && s.count > 0 {
			return errors.New("saved twice")
		}
		restored[s] = true
		if s.offer(r.reading(), false) != buffered { // in order (checked above): only tooOld is possible
			return fmt.Errorf("buffered point %d not after the counter's last taken point", i)
		}
		p.buffered(r.Ts)
		p.lastSeen = max(p.lastSeen, r.Ts)
	}
	return nil
}

func validReading(r readingState) bool {
	return r.V >= 0 && !math.IsInf(r.V, 1) && validTime(r.Ts) && validTime(r.Start)
}

// validTime is what ingest takes (and 0, an unset time).
func validTime(t int64) bool { return t >= 0 && t <= maxTime }

func (e *Engine) restoreWindow(w *windows, ws windowState, node string) error {
	if floorTo(ws.Start, w.length) != ws.Start {
		return errors.New("not a window start")
	}
	groups := w.open[ws.Start]
	if groups == nil {
		groups = map[groupKey]*windowCount{}
		w.open[ws.Start] = groups
	}
	if !validTime(ws.Start) || len(ws.Groups) > e.cfg.Limits.MaxPods {
		return errors.New("start out of range, or more groups than limits.max_pods")
	}
	for _, gs := range ws.Groups {
		if !validPodName(gs.Pod) || !validNamespace(gs.Namespace) || !validClusterName(gs.Cluster) || !validService(gs.Service) ||
			gs.Count < 0 || len(gs.Anomalies) > w.maxAnomalies {
			return fmt.Errorf("invalid group %q/%q/%q", gs.Cluster, gs.Namespace, gs.Pod)
		}
		for _, a := range gs.Anomalies {
			if len(a) > maxAnomalyText || !utf8.ValidString(a) || strings.ContainsFunc(a, unicode.IsControl) {
				return fmt.Errorf("invalid anomaly text of %q", gs.Pod)
			}
		}
		g := groupKey{cluster: gs.Cluster, node: node, pod: gs.Pod, namespace: gs.Namespace, service: gs.Service}
		if e.exclude.match(g) {
			continue // excluded since it was saved: its counts make no event
		}
		if !validReading(readingState{V: gs.PeakIn}) || !validReading(readingState{V: gs.PeakOut}) || math.IsNaN(gs.PeakZ) || math.IsInf(gs.PeakZ, 0) {
			return fmt.Errorf("invalid peak of %q", gs.Pod)
		}
		c := &windowCount{count: gs.Count, qualified: gs.Qualified, emitted: gs.Emitted, peakZ: gs.PeakZ, peakIn: gs.PeakIn, peakOut: gs.PeakOut}
		for _, a := range gs.Anomalies {
			c.insertText(a, w.maxAnomalies)
		}
		for name, z := range gs.MaxZ {
			s, ok := baseline.ParseSignal(name)
			if !ok || math.IsNaN(z) || math.IsInf(z, 0) {
				return fmt.Errorf("bad max z %q=%v", name, z)
			}
			c.maxZ[s], c.flagged[s] = z, true
		}
		groups[g] = c
	}
	for _, key := range ws.ShiftReported {
		if len(key) > 2*253+1 {
			return errors.New("shift_reported key too long")
		}
		e.peers.of(ws.Start, key).shiftReported = true
	}
	return nil
}
