package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"unicode"

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

// maxReported bounds the bad lines listed, so a wrong file (say, a logs recording) is not echoed whole.
const maxReported = 10

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
	reloader, err := baseline.NewReloader(cfg.Baseline.Path)
	if err != nil {
		return fail(fmt.Errorf("baseline: %w", err))
	}
	sources, closeAll, err := openInputs(inputs, stdin)
	if err != nil {
		return fail(err)
	}
	defer closeAll()

	r := &replay{stderr: stderr}
	eng, err := engine.New(cfg, engine.Settings{
		Logger:    logger,
		Telemetry: r.counts.telemetry(),
		Baseline:  reloader,
		// Buffered, not printed: a bad line later in the input must leave stdout empty.
		Emit: func(_ context.Context, evs []engine.Event) { r.events = append(r.events, evs...) },
	})
	if err != nil {
		return fail(err)
	}
	r.eng = eng
	for _, src := range sources {
		if !r.read(src) {
			break
		}
	}
	if r.bad > 0 {
		more := ""
		if r.truncated {
			more = "more than "
		}
		fmt.Fprintf(stderr, "k8snetio replay: %s%s; no events printed\n", more, plural(r.bad, "bad input line"))
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

// source is one input stream and the name its lines are reported under.
type source struct {
	name string
	r    io.Reader
}

// openInputs opens every input before any is read, so a typo in the last name fails at once.
func openInputs(names []string, stdin io.Reader) ([]source, func(), error) {
	if len(names) == 0 {
		names = []string{"-"}
	}
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	sources := make([]source, 0, len(names))
	for _, name := range names {
		if name == "-" {
			sources = append(sources, source{name: "<stdin>", r: stdin})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("input: %w", err)
		}
		files = append(files, f)
		sources = append(sources, source{name: name, r: f})
	}
	return sources, closeAll, nil
}

// replay is one run's state: the engine, what it emitted, and what was read.
type replay struct {
	eng    *engine.Engine
	stderr io.Writer
	events []engine.Event
	counts counts
	lines  int64 // non-blank lines, each one request
	points int64 // data points of every metric
	bad    int
	// truncated says reading stopped at maxReported bad lines, so bad is a lower bound.
	truncated bool
}

// read feeds one source line by line; after the first bad line it only checks the rest, to report
// more of them. It returns false when reading should stop.
func (r *replay) read(src source) bool {
	unmarshaler := &pmetric.JSONUnmarshaler{}
	br := bufio.NewReaderSize(src.r, 1<<20)
	for lineNo := 1; ; lineNo++ {
		// ReadBytes, not a Scanner: a file exporter line holds a whole batch and has no size bound.
		line, readErr := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			md, err := parseLine(unmarshaler, line)
			if err != nil {
				if r.bad == maxReported {
					r.truncated = true
					fmt.Fprintf(r.stderr, "%s:%d: more bad lines; stopped reading\n", src.name, lineNo)
					return false
				}
				r.bad++
				fmt.Fprintf(r.stderr, "%s:%d: %v\n", src.name, lineNo, err)
			} else if r.bad == 0 {
				r.lines++
				r.points += int64(md.DataPointCount())
				r.eng.ConsumeMetrics(context.Background(), md)
			}
		}
		if readErr == io.EOF {
			return true
		}
		if readErr != nil {
			r.bad++
			fmt.Fprintf(r.stderr, "%s:%d: %v\n", src.name, lineNo, readErr)
			return false
		}
	}
}

// parseLine decodes one file exporter line; the messages say what is wrong in terms of the file.
func parseLine(u *pmetric.JSONUnmarshaler, line []byte) (pmetric.Metrics, error) {
	line = bytes.TrimRight(line, "\r\n") // so that a truncated line reads as one, not as a newline inside a string
	// encoding/json first: pdata's decoder accepts trailing garbage and reports a truncated line as a NUL byte.
	if !json.Valid(line) {
		var v json.RawMessage
		err := json.Unmarshal(line, &v)
		if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			return pmetric.Metrics{}, fmt.Errorf("not valid JSON: %v (at byte %d)", se, se.Offset)
		}
		return pmetric.Metrics{}, fmt.Errorf("not valid JSON: %v", err)
	}
	md, err := u.UnmarshalMetrics(line)
	if err != nil {
		return pmetric.Metrics{}, fmt.Errorf("not OTLP metrics JSON: %s", printable(err.Error()))
	}
	if md.ResourceMetrics().Len() == 0 {
		// pdata ignores unknown fields, so a logs or traces recording would otherwise read as empty metrics.
		var top map[string]json.RawMessage
		if json.Unmarshal(line, &top) != nil || top == nil {
			return pmetric.Metrics{}, errors.New("not OTLP metrics JSON: want an object with resourceMetrics")
		}
		delete(top, "resourceMetrics")
		if len(top) > 0 {
			keys := slices.Sorted(maps.Keys(top))
			return pmetric.Metrics{}, fmt.Errorf("not OTLP metrics JSON: no resourceMetrics, but %s (a recording of another signal?)",
				strings.Join(keys, ", "))
		}
	}
	return md, nil
}

// printable escapes control characters, which pdata's decoder quotes raw from the input.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if unicode.IsControl(c) {
			fmt.Fprintf(&b, "\\x%02x", c)
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
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
	fmt.Fprintf(stderr, "k8snetio replay: %s, %s; %s; %s, %d anomalous; %s\n",
		plural(r.lines, "line"), plural(r.points, "data point"),
		r.counts.points(metric),
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

// newLogger prints the engine's and the config resolver's warnings as plain stderr lines.
func newLogger(stderr io.Writer) *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
		MessageKey:       "msg",
		LevelKey:         "level",
		ConsoleSeparator: " ",
		EncodeLevel: func(l zapcore.Level, e zapcore.PrimitiveArrayEncoder) {
			e.AppendString("k8snetio replay: " + l.String() + ":")
		},
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeTime:     zapcore.RFC3339TimeEncoder,
	})
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(stderr), zap.WarnLevel))
}
