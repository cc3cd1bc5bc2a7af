package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

const replayUsage = `Usage: k8snetio replay --config FILE [--baseline FILE] [--component ID] [INPUT...]

Runs the k8s_netio_anomaly detection over metrics recorded by the collector's file
exporter (OTLP JSON, one ExportMetricsServiceRequest per line; blank lines are skipped)
and prints each event's body as one JSON object per line, sorted by window_start,
k8s.cluster.name, host and k8s.pod.name. The INPUT files are read in the order given, as
one stream; with no INPUT, or INPUT "-", standard input is read.

Spans and windows follow the data's timestamps, not the clock. At the end of the input the
span holding the newest point is complete and every window that has ended is reported; a
window still open at the end of the data is not. The config's idle_flush,
baseline.reload_interval and learn settings do not apply.

Options:
  --config FILE     the component's settings, in YAML with the keys of the collector
                    config: either the component's keys at top level (span: 10s,
                    baseline: {path: baseline.csv}, ...) or a whole collector config, of
                    which the processors: or connectors: entry of type k8s_netio_anomaly is
                    used. ${env:VAR} is expanded as the collector does. A relative
                    baseline.path is relative to FILE's directory.
  --baseline FILE   the baseline CSV to score against, instead of baseline.path
  --component ID    which k8s_netio_anomaly entry of a collector config to use when it
                    has several (k8s_netio_anomaly/NAME; processor/ID or connector/ID
                    when an ID is both)

Events are printed only when the whole input was read without error: a line that is not
OTLP metrics JSON is reported on stderr as FILE:LINE and nothing goes to stdout. A summary
(lines, data points, pod-spans scored and anomalous, events) goes to stderr.

Exit status: 0 done, 1 bad input, config or baseline file, 2 usage error.
`

func runReplay(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed below, with a pointer to -h instead of the flag dump
	var opts configOptions
	fs.StringVar(&opts.path, "config", "", "")
	fs.StringVar(&opts.baseline, "baseline", "", "")
	fs.StringVar(&opts.component, "component", "", "")
	inputs, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, replayUsage)
		return exitOK
	}
	if err == nil && opts.path == "" {
		err = errors.New("--config FILE is required")
	}
	if err != nil {
		fmt.Fprintf(stderr, "k8snetio replay: %v\nRun 'k8snetio replay -h' for usage.\n", err)
		return exitUsage
	}

	fail := func(err error) int {
		fmt.Fprintf(stderr, "k8snetio replay: %v\n", err)
		if ue := (*usageError)(nil); errors.As(err, &ue) {
			return exitUsage
		}
		return exitFailure
	}
	logger := newLogger(stderr)
	cfg, err := loadConfig(opts, logger)
	if err != nil {
		return fail(err)
	}
	cfg.Learn.Enabled = false // replay detects; learning a baseline from recordings is a job for its own subcommand
	// Loaded here rather than by engine.New so that a baseline error is reported as such, naming file:line:col.
	reloader, err := baseline.NewReloader(cfg.Baseline.Path, baseline.MaxBytes(cfg.Baseline.MaxBytes))
	if err != nil {
		return fail(fmt.Errorf("baseline: %w", err))
	}
	sources, closeAll, err := openInputs(inputs, stdin)
	if err != nil {
		return fail(err)
	}
	defer closeAll()

	r := &replay{}
	eng, err := engine.New(cfg, engine.Settings{
		Logger:       logger,
		Telemetry:    r.counts.telemetry(),
		Baseline:     reloader,
		DataTimeOnly: true,
		// Buffered, not printed: a bad line later in the input must leave stdout empty.
		Emit: func(_ context.Context, evs []engine.Event) { r.events = append(r.events, evs...) },
	})
	if err != nil {
		return fail(err)
	}
	r.in = metricsInput{stderr: stderr, consume: func(md pmetric.Metrics) { eng.ConsumeMetrics(context.Background(), md) }}
	r.in.readAll(sources)
	if bad := r.in.badLines(); bad != "" {
		fmt.Fprintf(stderr, "k8snetio replay: %s; no events printed\n", bad)
		return exitFailure
	}
	eng.Flush(context.Background())
	return r.print(stdout, stderr, cfg.Metric)
}

// parseInterleaved accepts flags after the inputs too (replay x.jsonl --config c.yaml), which the flag
// package alone does not; "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// replay is one run's state: what was read and what the engine emitted.
type replay struct {
	in     metricsInput
	events []engine.Event
	counts counts
}

// print writes the events, one JSON object each, and the summary.
func (r *replay) print(stdout, stderr io.Writer, metric string) int {
	slices.SortStableFunc(r.events, compareEvents)
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // anomaly texts print as the search writes them
	for i := range r.events {
		if err := enc.Encode(r.events[i].Body()); err != nil {
			fmt.Fprintf(stderr, "k8snetio replay: %v\n", err)
			return exitFailure
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "k8snetio replay: writing events: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "k8snetio replay: %s; %s; %s, %d anomalous; %s\n",
		r.in.summary(), r.counts.points(metric),
		plural(r.counts.scored, "pod-span")+" scored", r.counts.anomalous,
		plural(len(r.events), "event"))
	return exitOK
}

// compareEvents is the output order: window_start, cluster, host, pod (then namespace, for same-named pods).
func compareEvents(a, b engine.Event) int {
	if c := a.WindowStart.Compare(b.WindowStart); c != 0 {
		return c
	}
	for _, p := range [][2]string{{a.Cluster, b.Cluster}, {a.Node, b.Node}, {a.Pod, b.Pod}, {a.Namespace, b.Namespace}} {
		if c := strings.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	return 0
}

func plural[N int | int64](n N, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// newLogger is replay's logger.
func newLogger(stderr io.Writer) *zap.Logger { return commandLogger(stderr, "replay") }

// commandLogger prints the engine's and the config resolver's warnings as plain stderr lines
// headed by the command's name.
func commandLogger(stderr io.Writer, command string) *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
		MessageKey:       "msg",
		LevelKey:         "level",
		ConsoleSeparator: " ",
		EncodeLevel: func(l zapcore.Level, e zapcore.PrimitiveArrayEncoder) {
			e.AppendString("k8snetio " + command + ": " + l.String() + ":")
		},
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeTime:     zapcore.RFC3339TimeEncoder,
	})
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(stderr), zap.WarnLevel))
}
