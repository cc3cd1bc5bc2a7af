package learn

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

// DiffResult is what changed between two baselines.
type DiffResult struct {
	Added   []string // keys only in the new table, sorted
	Removed []string // keys only in the old table, sorted
	Moved   []Move   // sorted by key, then signal
	Sigmas  float64  // the threshold the moves exceeded
}

// Move is one signal of one key whose mean moved by more than the threshold.
type Move struct {
	Key              string
	Signal           Signal
	OldMean, NewMean float64
	OldStdev         float64
	// Z is (NewMean - OldMean) / OldStdev, ±Inf when the old stdev is 0.
	Z float64
}

// Diff compares an older baseline with a newer one: keys added and removed, and signals
// defined on both sides whose mean moved by more than sigmas old stdevs (any move at 0).
func Diff(before, after *Table, sigmas float64) DiffResult {
	res := DiffResult{Sigmas: sigmas}
	sigs := signals(before.Volumes && after.Volumes)
	for _, key := range after.Keys() {
		if _, ok := before.Rows[key]; !ok {
			res.Added = append(res.Added, key)
		}
	}
	for _, key := range before.Keys() {
		o := before.Rows[key]
		n, ok := after.Rows[key]
		if !ok {
			res.Removed = append(res.Removed, key)
			continue
		}
		for _, s := range sigs {
			a, b := o.Acc[s], n.Acc[s]
			if a.N == 0 || b.N == 0 {
				continue
			}
			d, sd := b.Mean-a.Mean, o.Stdev(s)
			if math.Abs(d) <= sigmas*sd || d == 0 {
				continue
			}
			z := math.Inf(1)
			switch {
			case sd > 0:
				z = d / sd
			case d < 0:
				z = math.Inf(-1)
			}
			res.Moved = append(res.Moved, Move{Key: key, Signal: s, OldMean: a.Mean, NewMean: b.Mean, OldStdev: sd, Z: z})
		}
	}
	return res
}

// Empty says nothing changed.
func (r DiffResult) Empty() bool {
	return len(r.Added) == 0 && len(r.Removed) == 0 && len(r.Moved) == 0
}

// WriteText prints a readable report, each section sorted by key.
func (r DiffResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d added, %d removed, %d moved by more than %s standard deviations\n",
		len(r.Added), len(r.Removed), len(r.Moved), baseline.FormatNumber(r.Sigmas))
	if len(r.Added) > 0 {
		b.WriteString("\nadded:\n")
		for _, k := range r.Added {
			fmt.Fprintf(&b, "  + %s\n", k)
		}
	}
	if len(r.Removed) > 0 {
		b.WriteString("\nremoved:\n")
		for _, k := range r.Removed {
			fmt.Fprintf(&b, "  - %s\n", k)
		}
	}
	if len(r.Moved) > 0 {
		b.WriteString("\nmoved:\n")
		width := 0
		for _, m := range r.Moved {
			width = max(width, len(m.Key))
		}
		moved := slices.Clone(r.Moved)
		slices.SortStableFunc(moved, func(a, b Move) int { return strings.Compare(a.Key, b.Key) })
		for _, m := range moved {
			fmt.Fprintf(&b, "  ~ %-*s  %-19s avg %s -> %s (old stdev %s, %s sigma)\n",
				width, m.Key, m.Signal, baseline.FormatNumber(m.OldMean), baseline.FormatNumber(m.NewMean),
				baseline.FormatNumber(m.OldStdev), formatZ(m.Z))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatZ(z float64) string {
	switch {
	case math.IsInf(z, 1):
		return "+inf"
	case math.IsInf(z, -1):
		return "-inf"
	}
	return fmt.Sprintf("%+.2f", z)
}
