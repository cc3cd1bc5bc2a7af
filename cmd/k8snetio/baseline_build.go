package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/engine"
	"github.com/k8snetio/k8snetioanomaly/internal/learn"
)

const baselineBuildUsage = `Usage: k8snetio baseline build --config FILE [--out FILE] [--component ID] [INPUT...]

Learns a baseline CSV from metrics recorded by the collector's file exporter (OTLP JSON,
one ExportMetricsServiceRequest per line; blank lines are skipped), with the statistics
the component learns with learn.enabled: the same spans, metric, directions, services,
keys, fallbacks and exclusions, and the learn settings per_pod, volumes, days and
min_count. The INPUT files are read in the order given, as one stream; with no INPUT, or
INPUT "-", standard input is read. As in the collector, data must come in time order
(within the config's lateness): points of a span already closed are dropped as late, so
recordings of several nodes over the same time are built one by one and merged (see
'k8snetio baseline merge -h'), or interleaved by time first.

Per key (cluster:service) the file holds, for each signal, the mean and the sample
standard deviation (n-1) of its values, with count (the spans learned from) and last_seen
(Unix seconds of the newest one's start), in the columns
  key,avg_inbound:outbound,avg_outbound:inbound,
  stdev_inbound:outbound,stdev_outbound:inbound,
  with learn.volumes the same four for inbound_network_io and outbound_network_io,
  count,last_seen, and with learn.signal_counts one count_<signal> per signal.
The count_<signal> columns, the number of values behind each signal, make merges exact
where some spans missed a direction; scoring ignores them. With learn.per_pod: false
(the default, parity with the search) a span gives one value per key, the mean over the
service's pods that reported it; with
learn.per_pod: true every pod's span with both directions is a value, and is counted: the
unit the detection scores.

With profile: recommended the recommended profile's columns follow all the others:
usual_inbound_bps, usual_outbound_bps, high_inbound_bps, high_outbound_bps (median and
95th percentile of each direction's rate, bytes/s), median_ln_outbound:inbound,
mad_ln_outbound:inbound, count_pod_spans, and the histograms hist_inbound_bps,
hist_outbound_bps, hist_outbound:inbound that 'k8snetio baseline merge' merges exactly.
They are learned from every pod-span with both directions, pooled per key.

Keys whose count is below learn.min_count (default 360, an hour of 10 s spans) are left
out. Only the newest learn.days UTC days of the data are kept (default 30). All of the
input is learned, its last span included. learn.enabled, path, write_interval and storage
do not apply, and no baseline is read: baseline.path may be unset or name a file that does
not exist yet.

Options:
  --config FILE     the component's settings, in YAML with the keys of the collector
                    config: either the component's keys at top level (span: 10s,
                    learn: {per_pod: true}, ...) or a whole collector config, of which
                    the processors: or connectors: entry of type k8s_netio_anomaly is
                    used. ${env:VAR} is expanded as the collector does.
  --out FILE        write the baseline to FILE instead of stdout, atomically (through
                    a temporary file in FILE's directory, renamed over FILE), so a
                    collector reading FILE never sees half of it
  --component ID    which k8s_netio_anomaly entry of a collector config to use when it
                    has several (k8s_netio_anomaly/NAME; processor/ID or connector/ID
                    when an ID is both)

The baseline is written only when the whole input was read without error: a line that is
not OTLP metrics JSON is reported on stderr as FILE:LINE, and nothing goes to stdout or
FILE. A summary (lines, data points, pod-spans, keys) goes to stderr.

Exit status: 0 done, 1 bad input or config file or the output cannot be written, 2 usage
error.
`

func runBaselineBuild(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const command = "baseline build"
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed below, with a pointer to -h instead of the flag dump
	var opts configOptions
	var out string
	fs.StringVar(&opts.path, "config", "", "")
	fs.StringVar(&out, "out", "", "")
	fs.StringVar(&opts.component, "component", "", "")
	inputs, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, baselineBuildUsage)
		return exitOK
	}
	if err == nil && opts.path == "" {
		err = errors.New("--config FILE is required")
	}
	if err != nil {
		return usageFailure(stderr, command, err)
	}
	if err := checkOut(out); err != nil {
		return failure(stderr, command, err)
	}

	// Learning scores nothing, so an empty baseline stands in for baseline.path, which the
	// config check requires but which may name a file not learned yet, or a broken one.
	empty, emptyPath, err := emptyBaseline()
	if err != nil {
		return failure(stderr, command, err)
	}
	opts.baseline = emptyPath
	logger := commandLogger(stderr, command)
	cfg, err := loadConfig(opts, logger)
	if err != nil {
		return failure(stderr, command, err)
	}
	if err := checkLearn(cfg.Learn); err != nil {
		return failure(stderr, command, fmt.Errorf("%s: %w", opts.path, err))
	}
	// The engine would otherwise learn into a learner of its own and write learn.path.
	cfg.Learn.Enabled = false
	sources, closeAll, err := openInputs(inputs, stdin)
	if err != nil {
		return failure(stderr, command, err)
	}
	defer closeAll()

	// Configured as the engine configures its own learner, so the statistics are the collector's.
	learner := engine.NewLearner(cfg)
	var c counts
	eng, err := engine.New(cfg, engine.Settings{
		Logger:       logger,
		Telemetry:    c.telemetry(),
		Baseline:     empty,
		DataTimeOnly: true,
		Observer:     learner,
		Emit:         func(context.Context, []engine.Event) {}, // nothing is scored against an empty baseline
	})
	if err != nil {
		return failure(stderr, command, err)
	}
	in := metricsInput{stderr: stderr, consume: func(md pmetric.Metrics) { eng.ConsumeMetrics(context.Background(), md) }}
	in.readAll(sources)
	if bad := in.badLines(); bad != "" {
		fmt.Fprintf(stderr, "k8snetio %s: %s; no baseline written\n", command, bad)
		return exitFailure
	}
	// The input has ended: its last span is complete, and so is every span the learner still holds.
	eng.Flush(context.Background())
	learner.Flush()

	t := learner.Table()
	few := 0
	for key, row := range t.Rows {
		if row.Count < cfg.Learn.MinCount {
			delete(t.Rows, key)
			few++
		}
	}
	if err := writeTable(t, out, stdout); err != nil {
		return failure(stderr, command, err)
	}
	fmt.Fprintf(stderr, "k8snetio %s: %s; %s; %s; %s\n", command, in.summary(), c.points(cfg.Metric),
		plural(c.scored, "pod-span")+" with both directions", keysSummary(len(t.Rows), few, cfg.Learn, learner.Stats()))
	return exitOK
}

// emptyBaseline returns a reloader holding no keys, and the path it stands for. The path is in
// a directory made and removed here, so that it names no file: NewReloaderAwaiting then loads nothing.
func emptyBaseline() (*baseline.Reloader, string, error) {
	dir, err := os.MkdirTemp("", "k8snetio-baseline-")
	if err != nil {
		return nil, "", err
	}
	defer os.Remove(dir)
	path := filepath.Join(dir, "none.csv")
	r, err := baseline.NewReloaderAwaiting(path)
	return r, path, err
}

// checkLearn checks the learn settings build uses; the config check covers them only with learn.enabled.
func checkLearn(l engine.LearnConfig) error {
	var errs []string
	if l.Days < 1 {
		errs = append(errs, fmt.Sprintf("learn.days: must be at least 1, got %d", l.Days))
	}
	if l.MinCount < 0 {
		errs = append(errs, fmt.Sprintf("learn.min_count: must not be negative, got %d", l.MinCount))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration:\n%s", indent(strings.Join(errs, "\n")))
}

// keysSummary says how many keys were written, over how many days, and why others were not.
func keysSummary(written, few int, l engine.LearnConfig, st learn.Stats) string {
	s := fmt.Sprintf("%s written, from %s", plural(written, "key"), plural(st.Days, "UTC day"))
	if few > 0 {
		s += fmt.Sprintf("; %s left out with a count below learn.min_count (%d)", plural(few, "key"), l.MinCount)
	}
	// Neither can happen with the engine's own checks; if one does, the learner and the engine disagree.
	if n := st.Late + st.Invalid; n > 0 {
		s += fmt.Sprintf("; %s dropped by the learner (%d late, %d invalid)", plural(int64(n), "pod-span"), st.Late, st.Invalid)
	}
	return s
}
