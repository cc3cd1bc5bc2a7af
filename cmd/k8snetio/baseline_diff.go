package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"

	"github.com/k8snetio/k8snetioanomaly/internal/learn"
)

const baselineDiffUsage = `Usage: k8snetio baseline diff [--sigmas N] OLD.csv NEW.csv

Compares two baselines, such as the one in use and a newly learned one before promoting
it: the keys only in NEW (added), the keys only in OLD (removed), and, for keys in both,
every signal whose mean moved by more than N of OLD's standard deviations for that key
and signal (by any amount when OLD's is 0). A signal is compared only where both files
carry it and both define it for the key. The report goes to stdout; its first line says
how many of each there are.

Options:
  --sigmas N   the threshold, in OLD standard deviations (default 3)

Exit status: 0 when both files were read, whether or not they differ (read the report's
first line, or test for "0 added, 0 removed, 0 moved", to tell); 1 a file cannot be read;
2 usage error.
`

func runBaselineDiff(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	const command = "baseline diff"
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sigmas := fs.Float64("sigmas", 3, "")
	files, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, baselineDiffUsage)
		return exitOK
	}
	switch {
	case err != nil:
	case len(files) != 2:
		err = fmt.Errorf("want OLD.csv and NEW.csv, got %s", plural(len(files), "file"))
	case !(*sigmas >= 0) || math.IsInf(*sigmas, 0):
		err = fmt.Errorf("--sigmas must be a finite number, 0 or more, got %v", *sigmas)
	}
	if err != nil {
		return usageFailure(stderr, command, err)
	}
	old, err := readTable(files[0])
	if err != nil {
		return failure(stderr, command, err)
	}
	cur, err := readTable(files[1])
	if err != nil {
		return failure(stderr, command, err)
	}
	if err := learn.Diff(old, cur, *sigmas).WriteText(stdout); err != nil {
		return failure(stderr, command, fmt.Errorf("writing the report: %w", err))
	}
	return exitOK
}
