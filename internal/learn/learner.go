package learn

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// Defaults for Config fields left at zero.
const (
	DefaultDays = 30
	DefaultSpan = 10 * time.Second
)

// Config configures a Learner.
type Config struct {
	// PerPod learns per pod-span, the unit the detection scores, instead of per key-span.
	PerPod bool
	// SignalCounts appends a count_<S> column per signal, so files merge exactly even where
	// a direction was missing in some spans. Off, the file has exactly the search's columns.
	SignalCounts bool
	// Volumes adds the volume signals to the table; they are always accumulated, so the
	// flag can change without losing state.
	Volumes bool
	// Days is how many UTC days of data the table covers; 0 means DefaultDays.
	Days int
	// Span is the span length the engine uses; 0 means DefaultSpan.
	Span time.Duration
	// Profile also learns the recommended profile's histograms from ObserveRates, pooled
	// per key whatever PerPod says, as extra columns. Off, ObserveRates does nothing.
	Profile bool
}

// Stats are the learner's own counters, for the component's telemetry.
type Stats struct {
	Late         uint64 // observations for spans already folded or older than Days, dropped
	Invalid      uint64 // observations with an empty key or a negative or non-finite byte count; rates (ObserveRates) negative, non-finite or over no time
	PendingSpans int    // key-spans waiting for Advance
	Days         int    // days held
}

// Learner accumulates the baseline from closed pod-spans. It is safe for concurrent use.
type Learner struct {
	cfg Config

	mu      sync.Mutex
	pending map[int64]map[string]*keySpan // span start (Unix ns) -> key -> pods
	days    map[int64]map[string]*keyDay  // day number (Unix days, UTC) -> key -> statistics
	done    int64                         // spans starting before this (Unix ns) are folded: later observations for them are late
	newest  int64                         // newest day folded or restored
	any     bool                          // newest is set
	stats   Stats
}

// keySpan holds one key's observations in one span, by pod.
type keySpan struct {
	pods map[string]*podObs
}

type podObs struct {
	in, out       float64
	hasIn, hasOut bool
	// rin and rout are the pod-span's rates (ObserveRates), bytes/s over cov.
	rin, rout float64
	cov       time.Duration
}

// keyDay is one key's statistics over the spans of one UTC day.
type keyDay struct {
	acc   [numSignals]Acc
	count int64
	last  int64         // newest span start, Unix ns
	model profile.Model // the recommended profile's histograms (Config.Profile)
}

// sample is one unit's signal values; ok says which are defined.
type sample struct {
	v  [numSignals]float64
	ok [numSignals]bool
}

func (s *sample) set(sig Signal, v float64) {
	if !math.IsInf(v, 0) && !math.IsNaN(v) {
		s.v[sig], s.ok[sig] = v, true
	}
}

// makeSample derives the signals from one unit's inbound and outbound, with the search's
// nulls: a ratio is undefined when a direction is missing or its denominator is zero.
func makeSample(in, out float64, hasIn, hasOut bool) sample {
	var s sample
	if hasIn {
		s.set(InboundIO, in)
	}
	if hasOut {
		s.set(OutboundIO, out)
	}
	if hasIn && hasOut {
		if out > 0 {
			s.set(InOut, in/out)
		}
		if in > 0 {
			s.set(OutIn, out/in)
		}
	}
	return s
}

// New returns a Learner; zero Days and Span take their defaults.
func New(cfg Config) *Learner {
	if cfg.Days <= 0 {
		cfg.Days = DefaultDays
	}
	if cfg.Span <= 0 {
		cfg.Span = DefaultSpan
	}
	return &Learner{
		cfg:     cfg,
		pending: map[int64]map[string]*keySpan{},
		days:    map[int64]map[string]*keyDay{},
		done:    math.MinInt64,
	}
}

// Observe records one closed pod-span's bytes; a second call for it adds, as further
// increases of the span would. Invalid bytes count in Stats.Invalid; a span already folded
// or aged out is late (Stats.Late): folding it separately would count it twice.
func (l *Learner) Observe(key, pod string, spanStart time.Time, in, out float64, hasIn, hasOut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	bad := key == ""
	if hasIn && !validBytes(in) {
		hasIn, bad = false, true
	}
	if hasOut && !validBytes(out) {
		hasOut, bad = false, true
	}
	if bad {
		l.stats.Invalid++
	}
	if key == "" || (!hasIn && !hasOut) {
		return
	}
	s := spanStart.UnixNano()
	if s < l.done || (l.any && dayOf(s) < l.oldestDay()) {
		l.stats.Late++
		return
	}
	p := l.podAt(s, key, pod)
	if hasIn {
		p.in += in
		p.hasIn = true
	}
	if hasOut {
		p.out += out
		p.hasOut = true
	}
}

// ObserveRates records one closed pod-span's rates (engine.RateObserver), learned only if
// its Observe had both directions, as the profile scores nothing else. Repeated calls
// combine over their covered times; an empty key or a late span is left for Observe to count.
func (l *Learner) ObserveRates(key, pod string, spanStart time.Time, inBps, outBps float64, covered time.Duration) {
	if !l.cfg.Profile {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if key == "" {
		return // the pod-span's Observe counted it
	}
	if !validBytes(inBps) || !validBytes(outBps) || covered <= 0 {
		l.stats.Invalid++
		return
	}
	s := spanStart.UnixNano()
	if s < l.done || (l.any && dayOf(s) < l.oldestDay()) {
		return // late: the pod-span's Observe counted it
	}
	p := l.podAt(s, key, pod)
	if p.cov == 0 {
		p.rin, p.rout, p.cov = inBps, outBps, covered
		return
	}
	a, b := p.cov.Seconds(), covered.Seconds()
	p.rin = (p.rin*a + inBps*b) / (a + b)
	p.rout = (p.rout*a + outBps*b) / (a + b)
	p.cov += covered
}

// podAt returns the pending observations of pod in key's span s, made if need be.
func (l *Learner) podAt(s int64, key, pod string) *podObs {
	keys := l.pending[s]
	if keys == nil {
		keys = map[string]*keySpan{}
		l.pending[s] = keys
	}
	ks := keys[key]
	if ks == nil {
		ks = &keySpan{pods: map[string]*podObs{}}
		keys[key] = ks
	}
	p := ks.pods[pod]
	if p == nil {
		p = &podObs{}
		ks.pods[pod] = p
	}
	return p
}

func validBytes(v float64) bool {
	return v >= 0 && !math.IsInf(v, 1) // NaN fails v >= 0
}

// Advance folds the key-spans that started before watermark - Span (data time), then drops
// the days that left the window; a watermark moving backwards is ignored.
func (l *Learner) Advance(watermark time.Time) {
	cut := watermark.Add(-l.cfg.Span).UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	if cut <= l.done {
		return
	}
	l.done = cut
	l.foldBefore(cut)
}

// Flush folds every pending key-span, complete or not (at shutdown, before MarshalDays).
func (l *Learner) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.pending {
		if s >= l.done {
			l.done = s + 1
		}
	}
	l.foldBefore(l.done)
}

// Stats returns the learner's counters.
func (l *Learner) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stats
	for _, keys := range l.pending {
		st.PendingSpans += len(keys)
	}
	st.Days = len(l.days)
	return st
}

// foldBefore folds the spans before cut oldest first, so the result is not map-ordered.
func (l *Learner) foldBefore(cut int64) {
	var spans []int64
	for s := range l.pending {
		if s < cut {
			spans = append(spans, s)
		}
	}
	slices.Sort(spans)
	for _, s := range spans {
		for key, ks := range l.pending[s] {
			l.fold(s, key, ks)
		}
		delete(l.pending, s)
	}
}

// fold turns one key-span into its samples and adds them to the key's day.
func (l *Learner) fold(span int64, key string, ks *keySpan) {
	d := dayOf(span)
	if l.any && d < l.oldestDay() {
		return
	}
	pods := make([]string, 0, len(ks.pods))
	for p := range ks.pods {
		pods = append(pods, p)
	}
	slices.Sort(pods) // a fixed summation order makes a replay bit-for-bit reproducible
	var samples []sample
	if l.cfg.PerPod {
		for _, p := range pods {
			o := ks.pods[p]
			if o.hasIn && o.hasOut { // the detection scores only pod-spans with both directions
				samples = append(samples, makeSample(o.in, o.out, true, true))
			}
		}
	} else {
		var sumIn, sumOut float64
		var nIn, nOut int
		for _, p := range pods {
			o := ks.pods[p]
			if o.hasIn {
				sumIn += o.in
				nIn++
			}
			if o.hasOut {
				sumOut += o.out
				nOut++
			}
		}
		if nIn > 0 || nOut > 0 { // pods with rates only (ObserveRates without Observe) are no observation
			samples = append(samples, makeSample(sumIn/float64(nIn), sumOut/float64(nOut), nIn > 0, nOut > 0))
		}
	}
	if len(samples) == 0 {
		return
	}
	keys := l.days[d]
	if keys == nil {
		keys = map[string]*keyDay{}
		l.days[d] = keys
	}
	kd := keys[key]
	if kd == nil {
		kd = &keyDay{last: span}
		keys[key] = kd
	}
	for _, sm := range samples {
		kd.count++
		for sig := range Signal(numSignals) {
			if sm.ok[sig] {
				kd.acc[sig].Add(sm.v[sig])
			}
		}
	}
	for _, p := range pods { // pooled per key in both modes: the profile's unit is the pod-span
		if o := ks.pods[p]; o.hasIn && o.hasOut && o.cov > 0 {
			kd.model.Observe(o.rin, o.rout)
		}
	}
	kd.last = max(kd.last, span)
	l.noteDay(d)
}

// noteDay records d as seen and drops the days that fell out of the window.
func (l *Learner) noteDay(d int64) {
	if l.any && d <= l.newest {
		return
	}
	l.newest, l.any = d, true
	oldest := l.oldestDay()
	for day := range l.days {
		if day < oldest {
			delete(l.days, day)
		}
	}
}

func (l *Learner) oldestDay() int64 { return l.newest - int64(l.cfg.Days) + 1 }

const nsPerDay = int64(24 * time.Hour)

// dayOf is the UTC day number (days since the Unix epoch) of a Unix ns instant.
func dayOf(ns int64) int64 {
	d := ns / nsPerDay
	if ns%nsPerDay < 0 {
		d--
	}
	return d
}

// Table returns the current statistics per key over the days held.
func (l *Learner) Table() *Table {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := &Table{Rows: map[string]*Row{}, Volumes: l.cfg.Volumes, SignalCounts: l.cfg.SignalCounts, Profile: l.cfg.Profile}
	days := make([]int64, 0, len(l.days))
	for d := range l.days {
		days = append(days, d)
	}
	slices.Sort(days) // a fixed combination order keeps the output reproducible
	last := map[string]int64{}
	for _, d := range days {
		for key, kd := range l.days[d] {
			r := t.Rows[key]
			if r == nil {
				r = &Row{}
				t.Rows[key] = r
				last[key] = kd.last
			}
			for sig := range Signal(numSignals) {
				r.Acc[sig] = r.Acc[sig].Merge(kd.acc[sig])
			}
			r.Count += kd.count
			if l.cfg.Profile {
				r.Model.Merge(kd.model)
			}
			last[key] = max(last[key], kd.last)
		}
	}
	for key, r := range t.Rows {
		if !l.cfg.Volumes {
			r.Acc[InboundIO], r.Acc[OutboundIO] = Acc{}, Acc{}
		}
		r.LastSeen = time.Unix(0, last[key]).Unix()
	}
	return t
}

// WriteFile writes the table as CSV to path atomically: readers never see a partial file.
func (t *Table) WriteFile(path string) error { return writeAtomic(path, t.WriteCSV) }

// writeAtomic writes a synced temporary file and renames it over path, untouched on failure.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	fail := func(err error) error { return fmt.Errorf("learn: cannot write baseline %s: %w", path, err) }
	dir := filepath.Dir(path)
	mode := os.FileMode(0o644) // the baseline is read by the collector, possibly another user
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fail(err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriter(f)
	if err = write(bw); err != nil {
		return fail(err)
	}
	if err = bw.Flush(); err != nil {
		return fail(err)
	}
	if err = f.Chmod(mode); err != nil {
		return fail(err)
	}
	if err = f.Sync(); err != nil {
		return fail(err)
	}
	if err = f.Close(); err != nil {
		return fail(err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	// Best effort: the rename's durability; some filesystems cannot sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
