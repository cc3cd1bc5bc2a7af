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
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/engine"
	"github.com/k8snetio/k8snetioanomaly/internal/evalreport"
)

const evalUsage = `Usage: k8snetio eval --config FILE [--config FILE]... [--baseline FILE | --train FILE...]
                     [--incidents FILE] [--inject SPEC]... [--json] [--html FILE]
                     [--component ID] [INPUT...]

Back-tests the detection against labelled incidents. Runs each --config (a mode) over the
recorded metrics INPUT (OTLP JSON, as replay reads them; with no INPUT, or INPUT "-",
standard input), matches the events to the incidents and prints, modes side by side:

  recall                   incidents with at least one event for the incident's pod whose
                           window overlaps the incident, over all incidents
  false events             events that match no incident, also per pod-hour (pod-hours:
                           the sum over pods of the time from their first to last point)
  latency median and max   per detected incident, the first matching event's emission
                           minus the incident's start, in data time

An event's emission time is the newest data timestamp the engine had been fed when it
emitted the event (at the end of the input, the end of the last span): in window mode
the first point after the window end plus lateness, in immediate mode the point that
closed the span which crossed count_threshold. An event emitted before the incident
began (immediate mode, the pod was already anomalous earlier in that window) counts with
latency 0. As in replay, spans and windows follow the data's timestamps and a window
still open at the end of the data is not reported; learning is off during detection. The
recordings are held in memory (every mode runs over the same, possibly injected, data).

Options:
  --config FILE      a mode: the component's settings, as for replay (the component's
                     keys at top level or a whole collector config); repeat to compare
                     modes; each is named after its file name without the extension
  --baseline FILE    score every mode against this baseline CSV instead of its
                     baseline.path
  --train FILE       learn each mode's baseline from these recordings first, as
                     'k8snetio baseline build' does with that mode's learn settings
                     (per_pod, volumes, days, min_count); repeat for several files, read
                     in the order given, as one stream
  --incidents FILE   the labels: CSV with a header naming pod, start, end and kind, or
                     JSON lines with those fields; pod is namespace/pod or pod (any
                     namespace), start and end RFC 3339 or Unix seconds, kind
                     exfiltration or download
  --inject SPEC      add synthetic attacks to the recordings before detection, and their
                     labels to the incidents: kind=exfiltration|download (required),
                     factor=F (default 10), minutes=M (default 10), pods=all|N (default
                     all), seed=S (default 1). For each chosen pod, one incident at a
                     random start (fixed by seed) within its data, ending by the last
                     window boundary the data closes for every mode: the transmit
                     (exfiltration) or receive (download) increase of every point in
                     [start, start+M) is multiplied by F, by rewriting the pod's
                     cumulative counters so that later values stay consistent. The first
                     --config's metric and direction settings say which points those are.
                     Repeatable; one incident per pod per SPEC.
  --json             print the comparison, every event and every incident's outcome as
                     one JSON document instead of the table
  --html FILE        also write a report: the table, then for each missed incident,
                     false event and detected incident the pod's rates and each scored
                     signal against avg + k*stdev, as inline SVG (opens offline)
  --component ID     which k8s_netio_anomaly entry of a collector config to use when it
                     has several (for every --config)

Exit status: 0 done, 1 bad input, config, baseline or incidents file, 2 usage error.
`

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

type evalOptions struct {
	configs, train, injects stringList
	baseline, incidents     string
	component, html         string
	json                    bool
}

func runEval(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	const command = "eval"
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed below, with a pointer to -h instead of the flag dump
	var o evalOptions
	fs.Var(&o.configs, "config", "")
	fs.Var(&o.train, "train", "")
	fs.Var(&o.injects, "inject", "")
	fs.StringVar(&o.baseline, "baseline", "", "")
	fs.StringVar(&o.incidents, "incidents", "", "")
	fs.StringVar(&o.component, "component", "", "")
	fs.StringVar(&o.html, "html", "", "")
	fs.BoolVar(&o.json, "json", false, "")
	inputs, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, evalUsage)
		return exitOK
	}
	switch {
	case err != nil:
	case len(o.configs) == 0:
		err = errors.New("--config FILE is required")
	case o.baseline != "" && len(o.train) > 0:
		err = errors.New("--baseline and --train exclude each other: score against a file, or learn one")
	}
	var specs []injectSpec
	for _, s := range o.injects {
		if err != nil {
			break
		}
		var spec injectSpec
		spec, err = parseInjectSpec(s)
		specs = append(specs, spec)
	}
	if err != nil {
		return usageFailure(stderr, command, err)
	}
	if o.html != "" {
		if err := checkOut(o.html); err != nil {
			return failure(stderr, command, errors.New(strings.Replace(err.Error(), "--out", "--html", 1)))
		}
	}

	logger := commandLogger(stderr, command)
	modes, cleanup, err := loadModes(o, logger)
	defer cleanup()
	if err != nil {
		return failure(stderr, command, err)
	}
	var incidents []evalreport.Incident
	if o.incidents != "" {
		f, err := os.Open(o.incidents)
		if err != nil {
			return failure(stderr, command, fmt.Errorf("incidents: %w", err))
		}
		incidents, err = evalreport.ParseIncidents(f, o.incidents)
		f.Close()
		if err != nil {
			return failure(stderr, command, err)
		}
	}

	var train []pmetric.Metrics
	if len(o.train) > 0 {
		if train, err = readRecordings(o.train, stdin, stderr, command, "training input"); err != nil {
			return failure(stderr, command, err)
		}
	}
	recs, err := readRecordings(inputs, stdin, stderr, command, "input")
	if err != nil {
		return failure(stderr, command, err)
	}
	first := modes[0].cfg
	data := describe(recs, first)
	// Injected incidents end where every mode's windows have closed, so that window mode is not
	// charged with attacks in a window the data never finishes.
	closeBy := data.To
	for _, m := range modes {
		if t := evalreport.ClosedThrough(data.To, m.cfg.Span, m.cfg.Window); t.Before(closeBy) {
			closeBy = t
		}
	}
	for _, spec := range specs {
		added, skipped := inject(recs, first, spec, closeBy)
		incidents = append(incidents, added...)
		if skipped > 0 {
			fmt.Fprintf(stderr, "k8snetio eval: --inject %s: %s with less data than the incident's %d minutes (before %s, where the windows close) left out\n",
				spec.raw, plural(skipped, "pod"), spec.minutes, closeBy.Format(time.RFC3339))
		}
	}

	var results []evalreport.Result
	for i := range modes {
		m := &modes[i]
		if len(o.train) > 0 {
			if m.reloader, err = trainBaseline(m, train, logger); err != nil {
				return failure(stderr, command, err)
			}
		}
		mode, c, err := detect(m, recs, logger)
		mode.Closed = evalreport.ClosedThrough(data.To, m.cfg.Span, m.cfg.Window)
		if err != nil {
			return failure(stderr, command, fmt.Errorf("%s: %w", m.name, err))
		}
		fmt.Fprintf(stderr, "k8snetio eval: %s: %s; %s, %d anomalous; %s\n", m.name, c.points(m.cfg.Metric),
			plural(c.scored, "pod-span")+" scored", c.anomalous, plural(len(mode.Events), "event"))
		results = append(results, evalreport.Evaluate(mode, incidents, data))
	}

	if o.html != "" {
		if err := writeHTMLReport(o.html, data, incidents, results); err != nil {
			return failure(stderr, command, err)
		}
	}
	if o.json {
		err = evalreport.WriteJSON(stdout, data, incidents, results)
	} else {
		err = evalreport.WriteTable(stdout, data, incidents, results)
	}
	if err != nil {
		return failure(stderr, command, fmt.Errorf("writing the result: %w", err))
	}
	return exitOK
}

// evalMode is one --config and what it scores against.
type evalMode struct {
	name, path string
	cfg        engine.Config
	reloader   *baseline.Reloader
	origin     string // where the baseline came from, for the report
	workDir    string // holds the learned baseline with --train
}

// loadModes reads every config before any data, so a typo in the last one fails at once.
func loadModes(o evalOptions, logger *zap.Logger) ([]evalMode, func(), error) {
	var dirs []string
	cleanup := func() {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}
	seen := map[string]bool{}
	var modes []evalMode
	for _, path := range o.configs {
		opts := configOptions{path: path, component: o.component, baseline: o.baseline}
		m := evalMode{path: path}
		if len(o.train) > 0 {
			// The baseline is learned later; an empty one stands in for baseline.path, which the config check requires.
			_, empty, err := emptyBaseline()
			if err != nil {
				return nil, cleanup, err
			}
			opts.baseline = empty
		}
		cfg, err := loadConfig(opts, logger)
		if err != nil {
			return nil, cleanup, err
		}
		if len(o.train) > 0 {
			if err := checkLearn(cfg.Learn); err != nil {
				return nil, cleanup, fmt.Errorf("%s: %w", path, err)
			}
			if m.workDir, err = os.MkdirTemp("", "k8snetio-eval-"); err != nil {
				return nil, cleanup, err
			}
			dirs = append(dirs, m.workDir)
		} else {
			// Loaded here so that a bad baseline is reported as such, naming file:line:col.
			if m.reloader, err = baseline.NewReloader(cfg.Baseline.Path); err != nil {
				return nil, cleanup, fmt.Errorf("baseline: %w", err)
			}
			m.origin = cfg.Baseline.Path
		}
		cfg.Learn.Enabled = false // detection only; with learning on the engine would also replace the span observer
		m.cfg = cfg
		m.name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		if seen[m.name] {
			m.name = path
		}
		seen[m.name] = true
		modes = append(modes, m)
	}
	return modes, cleanup, nil
}

// readRecordings reads whole OTLP JSON recordings into memory: every mode runs over the same
// data, and --inject rewrites it before any does.
func readRecordings(names []string, stdin io.Reader, stderr io.Writer, command, what string) ([]pmetric.Metrics, error) {
	sources, closeAll, err := openInputs(names, stdin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer closeAll()
	var out []pmetric.Metrics
	in := metricsInput{stderr: stderr, consume: func(md pmetric.Metrics) { out = append(out, md) }}
	in.readAll(sources)
	if bad := in.badLines(); bad != "" {
		return nil, fmt.Errorf("%s: %s; nothing evaluated", what, bad)
	}
	return out, nil
}

// trainBaseline learns m's baseline from the training recordings with m's learn settings,
// exactly as 'k8snetio baseline build' does, and loads it for scoring.
func trainBaseline(m *evalMode, train []pmetric.Metrics, logger *zap.Logger) (*baseline.Reloader, error) {
	empty, _, err := emptyBaseline()
	if err != nil {
		return nil, err
	}
	learner := engine.NewLearner(m.cfg)
	eng, err := engine.New(m.cfg, engine.Settings{
		Logger:       logger,
		Baseline:     empty,
		Observer:     learner,
		DataTimeOnly: true,                                     // recordings have no wall clock: judge time by their own data
		Emit:         func(context.Context, []engine.Event) {}, // nothing is scored against an empty baseline
	})
	if err != nil {
		return nil, err
	}
	for _, md := range train {
		eng.ConsumeMetrics(context.Background(), md)
	}
	eng.Flush(context.Background())
	learner.Flush()
	t := learner.Table()
	for key, row := range t.Rows {
		if row.Count < m.cfg.Learn.MinCount {
			delete(t.Rows, key)
		}
	}
	if len(t.Rows) == 0 {
		return nil, fmt.Errorf("%s: training learned no key with at least learn.min_count (%d) spans; lower it or train on more data",
			m.path, m.cfg.Learn.MinCount)
	}
	path := filepath.Join(m.workDir, "baseline.csv")
	if err := t.WriteFile(path); err != nil {
		return nil, err
	}
	m.origin = fmt.Sprintf("learned from the --train recordings (%s)", plural(len(t.Rows), "key"))
	return baseline.NewReloader(path)
}

// seriesObserver keeps every pod's closed spans, for the report's charts.
type seriesObserver struct {
	series map[evalreport.SeriesID][]evalreport.Span
}

func (o *seriesObserver) Observe(key, pod string, spanStart time.Time, in, out float64, hasIn, hasOut bool) {
	id := evalreport.SeriesID{Key: key, Pod: pod}
	o.series[id] = append(o.series[id], evalreport.Span{Start: spanStart, In: in, Out: out, HasIn: hasIn, HasOut: hasOut})
}

func (o *seriesObserver) Advance(time.Time) {}

// detect runs one mode over the recordings, noting each event's emission in data time.
func detect(m *evalMode, recs []pmetric.Metrics, logger *zap.Logger) (*evalreport.Mode, *counts, error) {
	mode := &evalreport.Mode{Name: m.name, Config: m.cfg, BaselineOrigin: m.origin}
	obs := &seriesObserver{series: map[evalreport.SeriesID][]evalreport.Span{}}
	var c counts
	var now time.Time // the newest data time fed so far
	eng, err := engine.New(m.cfg, engine.Settings{
		Logger:       logger,
		Telemetry:    c.telemetry(),
		Baseline:     m.reloader,
		Observer:     obs,
		DataTimeOnly: true,
		Emit: func(_ context.Context, evs []engine.Event) {
			for _, ev := range evs {
				mode.Events = append(mode.Events, evalreport.Event{Event: ev, Emitted: now})
			}
		},
	})
	if err != nil {
		return nil, nil, err
	}
	for _, md := range recs {
		if t, ok := newestPoint(md, m.cfg.Metric); ok && t.After(now) {
			now = t
		}
		eng.ConsumeMetrics(context.Background(), md)
	}
	if !now.IsZero() {
		now = evalreport.FloorTime(now, m.cfg.Span).Add(m.cfg.Span) // Flush completes the span holding the newest point
	}
	eng.Flush(context.Background())
	mode.Baseline = eng.Baseline()
	mode.Series = obs.series
	evalreport.SortEvents(mode.Events)
	return mode, &c, nil
}

// newestPoint is the latest timestamp among the metric's number points in md.
func newestPoint(md pmetric.Metrics, metric string) (time.Time, bool) {
	var newest time.Time
	found := false
	forEachPoint(md, metric, func(_ podName, dp pmetric.NumberDataPoint, _ pointKind) {
		if t := dp.Timestamp().AsTime(); !found || t.After(newest) {
			newest, found = t, true
		}
	})
	return newest, found
}

// writeHTMLReport writes the report through a temporary file, so a failed run leaves no half page.
func writeHTMLReport(path string, data evalreport.Data, incidents []evalreport.Incident, results []evalreport.Result) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".k8snetio-eval-*.html")
	if err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := evalreport.WriteHTML(tmp, data, incidents, results); err != nil {
		tmp.Close()
		return fmt.Errorf("--html: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}
