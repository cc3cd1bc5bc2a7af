package engine

import (
	"context"
	"sort"

	"go.uber.org/zap"

	"github.com/k8snetio/k8snetioanomaly/internal/learn"
)

// StateStore keeps the learner's per-day state across restarts; the collector faces back it
// with a storage extension.
type StateStore interface {
	Load(ctx context.Context) (map[string][]byte, error)
	Save(ctx context.Context, entries map[string][]byte) error
}

// NewLearner is the baseline learner cfg asks for; the engine and `k8snetio baseline build` share it.
func NewLearner(cfg Config) *learn.Learner {
	l := cfg.Learn
	return learn.New(learn.Config{PerPod: l.PerPod, Volumes: l.Volumes, SignalCounts: l.SignalCounts, Days: l.Days, Span: cfg.Span})
}

// restoreLearning loads the saved days; a damaged entry is reported and skipped, the rest kept.
func (e *Engine) restoreLearning(ctx context.Context) {
	if e.learner == nil || e.set.State == nil {
		return
	}
	entries, err := e.set.State.Load(ctx)
	if err != nil {
		e.set.Logger.Error("Cannot load the learning state; learning starts afresh", zap.Error(err))
		return
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	sort.Strings(names)
	restored := 0
	for _, name := range names {
		if err := e.learner.RestoreDay(name, entries[name]); err != nil {
			e.set.Logger.Error("Skipping a damaged learning state entry", zap.String("entry", name), zap.Error(err))
			continue
		}
		restored++
	}
	e.set.Logger.Info("Learning state restored", zap.Int("days", restored))
}

// WriteLearned writes the learned baseline file and saves the learning state. A failure is
// logged and returned; detection goes on against the last good baseline either way.
func (e *Engine) WriteLearned(ctx context.Context) error {
	if e.learner == nil {
		return nil
	}
	t := e.learner.Table()
	for key, row := range t.Rows {
		if row.Count < e.cfg.Learn.MinCount {
			delete(t.Rows, key)
		}
	}
	err := t.WriteFile(e.cfg.Learn.Path)
	if err != nil {
		e.tel.LearnWriteFailures.Add(ctx, 1)
		e.set.Logger.Error("Cannot write the learned baseline", zap.Error(err))
	} else {
		e.set.Logger.Debug("Learned baseline written", zap.String("file", e.cfg.Learn.Path), zap.Int("keys", len(t.Rows)))
	}
	if e.set.State != nil {
		days, merr := e.learner.MarshalDays()
		if merr == nil {
			merr = e.set.State.Save(ctx, days)
		}
		if merr != nil {
			e.tel.LearnWriteFailures.Add(ctx, 1)
			e.set.Logger.Error("Cannot save the learning state", zap.Error(merr))
			if err == nil {
				err = merr
			}
		}
	}
	return err
}
