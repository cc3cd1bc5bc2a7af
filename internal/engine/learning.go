package engine

import (
	"context"

	"go.uber.org/zap"

	"github.com/k8snetio/k8snetioanomaly/internal/learn"
)

// StateStore keeps the detection state ("detect/<node>" entries) and the learner's per-day state
// ("day/<date>") across restarts; the collector faces back it with a storage extension. Save
// replaces the whole set.
type StateStore interface {
	Load(ctx context.Context) (map[string][]byte, error)
	Save(ctx context.Context, entries map[string][]byte) error
}

// NewLearner is the baseline learner cfg asks for; the engine and `k8snetio baseline build` share it.
func NewLearner(cfg Config) *learn.Learner {
	l := cfg.Learn
	return learn.New(learn.Config{PerPod: l.PerPod, Volumes: l.Volumes, SignalCounts: l.SignalCounts, Days: l.Days, Span: cfg.Span,
		Profile: cfg.Profile == ProfileRecommended})
}

// WriteLearned writes the learned baseline file (the learning state is saved with the
// checkpoints). A failure is logged and returned; detection goes on against the last good
// baseline either way.
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
	return err
}
