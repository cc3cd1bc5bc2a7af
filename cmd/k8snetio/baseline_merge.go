package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/k8snetio/k8snetioanomaly/internal/learn"
)

const baselineMergeUsage = `Usage: k8snetio baseline merge [--out FILE] BASELINE.csv...

Combines baselines learned from separate data into one, as if a single learner had seen
all of it: per key, each signal's mean and variance combine exactly, up to rounding (Chan
et al.'s pairwise formula), count adds up and last_seen is the newest. learn.min_count
and learn.days are not applied again: the result covers everything its inputs cover. A
key left out of a part for its low count is lost to the merge with its spans, so build
the parts to be merged with learn.min_count: 0.

"Separate data" means no span is in two files, and what that gives depends on how the
files were learned:
  - other days, or other clusters: exact in both modes. A weekly baseline can be
    merged from daily builds instead of rebuilt from the whole month.
  - per-node partial baselines, learned over the same time by one collector per node
    (agent mode), or built from each node's recording:
    - with learn.per_pod: true, exact. The unit is one pod's span, and each pod runs on
      one node, so the merge equals one learner over the whole cluster.
    - with learn.per_pod: false (parity with the search, the default), not what one
      learner over the whole cluster learns. Each node's learner averages only its own
      pods of a service in each span, so a service with pods on several nodes gives one
      span mean per node instead of one over all its pods: count adds up across the
      nodes, and the spread is that of means over fewer pods, usually wider than the
      search's. Services whose pods all run on one node come out exact. For parity,
      learn in one place per cluster (a gateway collector), or use per_pod.
A file does not record the mode it was learned in: merge only files learned alike.

All files must carry the same signals: one with the volume columns and one without is an
error. Files without the count_<signal> columns, such as an export of the Splunk lookup,
are accepted: the number of values behind each signal is then taken to be count, which is
approximate where a direction was missing in some spans, and the result has no count_
columns either.

Options:
  --out FILE   write the result to FILE instead of stdout, atomically (FILE may be one
               of the inputs)

Exit status: 0 done, 1 a file cannot be read or the files do not go together, 2 usage
error.
`

func runBaselineMerge(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	const command = "baseline merge"
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var out string
	fs.StringVar(&out, "out", "", "")
	files, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, baselineMergeUsage)
		return exitOK
	}
	if err == nil && len(files) == 0 {
		err = errors.New("no baseline files given")
	}
	if err != nil {
		return usageFailure(stderr, command, err)
	}
	if err := checkOut(out); err != nil {
		return failure(stderr, command, err)
	}
	tables := make([]*learn.Table, len(files))
	for i, f := range files {
		if tables[i], err = readTable(f); err != nil {
			return failure(stderr, command, err)
		}
	}
	for _, t := range tables[1:] {
		if t.Volumes != tables[0].Volumes {
			return failure(stderr, command, volumesMismatch(tables[0], t))
		}
	}
	if len(tables) > 1 {
		for _, t := range tables {
			if !t.SignalCounts {
				fmt.Fprintf(stderr, "k8snetio %s: warning: %s has no count_<signal> columns: each signal's number of values is taken to be count, and the result has no count_ columns\n", command, t.File)
			}
		}
	}
	merged, err := learn.Merge(tables...)
	if err != nil {
		return failure(stderr, command, err)
	}
	if err := writeTable(merged, out, stdout); err != nil {
		return failure(stderr, command, err)
	}
	return exitOK
}

// volumesMismatch names the file with the volume columns and the one without.
func volumesMismatch(a, b *learn.Table) error {
	with, without := a, b
	if !a.Volumes {
		with, without = b, a
	}
	return fmt.Errorf("%s has no volume columns (avg_inbound_network_io, ...), but %s has: merge only baselines learned with the same learn.volumes",
		without.File, with.File)
}
