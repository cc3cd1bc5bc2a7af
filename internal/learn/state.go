package learn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// stateVersion is a day entry's format; a change must keep reading older entries or fail
// them clearly. Version 2 added the profile's models; version 1 entries restore without.
const stateVersion = 2

const dayPrefix = "day/"

// dayEntry is one day's state as stored by the collector's storage extension (JSON).
type dayEntry struct {
	Version int                 `json:"version"`
	Day     string              `json:"day"`
	PerPod  bool                `json:"per_pod"`
	Keys    map[string]keyEntry `json:"keys"`
}

type keyEntry struct {
	Count   int64               `json:"count"`
	Last    int64               `json:"last_span_unix_ns"`
	Signals map[string]accEntry `json:"signals,omitempty"`
	// Model is the recommended profile's histograms (Config.Profile), absent when empty.
	Model *profile.Model `json:"model,omitempty"`
}

type accEntry struct {
	N    int64   `json:"n"`
	Mean float64 `json:"mean"`
	M2   float64 `json:"m2"`
}

func dayName(d int64) string {
	return dayPrefix + time.Unix(d*86400, 0).UTC().Format(time.DateOnly)
}

// MarshalDays returns the folded state, one entry per UTC day ("day/2026-11-27"); stored
// entries not in the map have aged out. Pending spans are left out: Flush first.
func (l *Learner) MarshalDays() (map[string][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]byte, len(l.days))
	for d, keys := range l.days {
		e := dayEntry{Version: stateVersion, Day: strings.TrimPrefix(dayName(d), dayPrefix), PerPod: l.cfg.PerPod, Keys: map[string]keyEntry{}}
		for key, kd := range keys {
			ke := keyEntry{Count: kd.count, Last: kd.last, Signals: map[string]accEntry{}}
			if kd.model.In.N() > 0 {
				m := kd.model
				ke.Model = &m
			}
			for s := range Signal(numSignals) {
				if a := kd.acc[s]; a.N > 0 {
					ke.Signals[s.String()] = accEntry{N: a.N, Mean: a.Mean, M2: a.M2}
				}
			}
			e.Keys[key] = ke
		}
		b, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("learn: state entry %q: %w", dayName(d), err)
		}
		out[dayName(d)] = b
	}
	return out, nil
}

// RestoreDay loads one MarshalDays entry before the first Observe. A damaged entry changes
// nothing, so the caller can log it and go on; spans up to the newest restored count as
// folded, so data replayed after a restart is not counted twice.
func (l *Learner) RestoreDay(name string, data []byte) error {
	d, keys, last, err := l.decodeDay(name, data)
	if err != nil {
		return fmt.Errorf("learn: state entry %q: %w", name, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.any && d < l.oldestDay() {
		return nil
	}
	if len(keys) == 0 {
		delete(l.days, d)
		return nil
	}
	l.days[d] = keys
	l.done = max(l.done, last+1)
	l.noteDay(d)
	return nil
}

// decodeDay parses and checks an entry completely before anything is installed.
func (l *Learner) decodeDay(name string, data []byte) (int64, map[string]*keyDay, int64, error) {
	date, ok := strings.CutPrefix(name, dayPrefix)
	if !ok {
		return 0, nil, 0, fmt.Errorf("name does not start with %q", dayPrefix)
	}
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("bad day in name: %w", err)
	}
	d := dayOf(t.UnixNano())
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var e dayEntry
	if err := dec.Decode(&e); err != nil {
		return 0, nil, 0, fmt.Errorf("damaged: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, nil, 0, errors.New("damaged: data after the entry")
	}
	switch {
	case e.Version < 1 || e.Version > stateVersion:
		return 0, nil, 0, fmt.Errorf("version %d, this learner reads 1 to %d", e.Version, stateVersion)
	case e.Day != date:
		return 0, nil, 0, fmt.Errorf("holds day %q", e.Day)
	case e.PerPod != l.cfg.PerPod:
		return 0, nil, 0, fmt.Errorf("learned with per_pod=%t, this learner has per_pod=%t", e.PerPod, l.cfg.PerPod)
	}
	keys := make(map[string]*keyDay, len(e.Keys))
	var newest int64 = math.MinInt64
	for key, ke := range e.Keys {
		kd, err := decodeKey(key, ke, d)
		if err != nil {
			return 0, nil, 0, err
		}
		keys[key] = kd
		newest = max(newest, kd.last)
	}
	return d, keys, newest, nil
}

func decodeKey(key string, ke keyEntry, d int64) (*keyDay, error) {
	if key == "" {
		return nil, errors.New("empty key")
	}
	if ke.Count < 1 {
		return nil, fmt.Errorf("key %q: count %d", key, ke.Count)
	}
	if dayOf(ke.Last) != d {
		return nil, fmt.Errorf("key %q: last span %s is not in the entry's day", key, time.Unix(0, ke.Last).UTC().Format(time.RFC3339Nano))
	}
	kd := &keyDay{count: ke.Count, last: ke.Last}
	if ke.Model != nil {
		if _, msg := checkModel(*ke.Model); msg != "" {
			return nil, fmt.Errorf("key %q: model: %s", key, msg)
		}
		kd.model = *ke.Model
	}
	for name, a := range ke.Signals {
		s, ok := baseline.ParseSignal(name)
		if !ok {
			return nil, fmt.Errorf("key %q: unknown signal %q", key, name)
		}
		if a.N < 1 || a.N > ke.Count || !finite(a.Mean) || !finite(a.M2) || a.M2 < 0 {
			return nil, fmt.Errorf("key %q: signal %s: invalid statistics n=%d mean=%v m2=%v", key, name, a.N, a.Mean, a.M2)
		}
		kd.acc[s] = Acc{N: a.N, Mean: a.Mean, M2: a.M2}
	}
	return kd, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
