package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/learn"
)

const baselineUsage = `Usage: k8snetio baseline <command> [arguments]

Learns, combines and compares baseline files: the per-service statistics the detection
scores against, as the lookup k8s_container_network_io_ratio_baseline that Splunk's
"Baseline Of Kubernetes Container Network IO Ratio" search writes, and as the component
writes with learn.enabled.

Commands:
  build   learn a baseline from recorded metrics, with the component's learn settings
  merge   combine baselines learned from separate data (other days, nodes or clusters)
  diff    list the keys added, removed, or whose mean moved, between two baselines

Run 'k8snetio baseline <command> -h' for a command's options.
`

// baselineCommands are the subcommands of `k8snetio baseline`; baselineUsage lists them.
var baselineCommands = map[string]func(args []string, stdin io.Reader, stdout, stderr io.Writer) int{
	"build": runBaselineBuild,
	"merge": runBaselineMerge,
	"diff":  runBaselineDiff,
}

func runBaseline(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, baselineUsage)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && name == "help" {
			if sub, ok := baselineCommands[rest[0]]; ok {
				return sub([]string{"-h"}, stdin, stdout, stderr)
			}
			fmt.Fprintf(stderr, "k8snetio baseline help: unknown command %q\n\n%s", rest[0], baselineUsage)
			return exitUsage
		}
		fmt.Fprint(stdout, baselineUsage)
		return exitOK
	}
	sub, ok := baselineCommands[name]
	if !ok {
		fmt.Fprintf(stderr, "k8snetio baseline: unknown command %q\n\n%s", name, baselineUsage)
		return exitUsage
	}
	return sub(rest, stdin, stdout, stderr)
}

// checkOut fails early on an --out whose directory is missing or not a directory, so that a
// long build does not find out only when it writes.
func checkOut(out string) error {
	if out == "" {
		return nil
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return fmt.Errorf("--out %s: is a directory", out)
	}
	dir := filepath.Dir(out)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--out %s: %s is not a directory", out, dir)
	}
	return nil
}

// writeTable writes t to out atomically, or to stdout when out is "".
func writeTable(t *learn.Table, out string, stdout io.Writer) error {
	if out != "" {
		return t.WriteFile(out)
	}
	w := bufio.NewWriter(stdout)
	if err := t.WriteCSV(w); err != nil {
		return fmt.Errorf("writing the baseline: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the baseline: %w", err)
	}
	return nil
}

// readTable reads one learned (or Splunk-exported) baseline; errors name the file, line and column.
func readTable(path string) (*learn.Table, error) {
	data, err := baseline.ReadFile(path, baseline.DefaultMaxBytes) // a FIFO or /dev/zero is refused, not read
	if err != nil {
		return nil, err
	}
	return learn.ReadCSV(bytes.NewReader(data), path)
}

// usageFailure prints a command-line error with a pointer to the command's help.
func usageFailure(stderr io.Writer, command string, err error) int {
	fmt.Fprintf(stderr, "k8snetio %s: %v\nRun 'k8snetio %s -h' for usage.\n", command, err, command)
	return exitUsage
}

// failure prints a run's error; a usageError is the command line's fault and exits as such.
func failure(stderr io.Writer, command string, err error) int {
	fmt.Fprintf(stderr, "k8snetio %s: %v\n", command, err)
	if ue := (*usageError)(nil); errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}
