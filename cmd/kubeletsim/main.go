// Command kubeletsim serves simulated kubelet /stats/summary endpoints, one per node, for the
// kubeletstats receiver to scrape (auth_type: none), and prints `listening node=<node>
// addr=<host:port>` for each once bound and the output files are written. `kubeletsim record`
// writes the same data as OTLP JSON lines without serving or sleeping. Flags: -h; the model:
// internal/kubeletsim.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/kubeletsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "kubeletsim:", err)
		os.Exit(1)
	}
}

// options are the parsed command line.
type options struct {
	listen        string
	nodes         string
	configPath    string
	incidentsPath string
	seed          uint64
	scenarioOut   string
	baselineOut   string
	baselineSpan  time.Duration
	baselineSpans int
	baselineOnly  bool
	duration      time.Duration
	estate        string
	day           int

	record        bool // the record subcommand
	out           string
	interval      time.Duration
	start         string
	defaultIfOnly bool
}

// recordEpoch is where the recordings of day 1 start by default.
var recordEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	name := "kubeletsim"
	if len(args) > 0 && args[0] == "record" {
		o.record, args, name = true, args[1:], "kubeletsim record"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if o.record {
		fs.StringVar(&o.out, "out", "-", "write the recording here (- is stdout)")
		fs.DurationVar(&o.duration, "duration", 24*time.Hour, "data time to record")
		fs.DurationVar(&o.interval, "interval", 10*time.Second, "scrape interval of each node (kubeletstats collection_interval)")
		fs.StringVar(&o.start, "start", "", "data time of the recording's start, RFC 3339 (default 2026-01-01T00:00:00Z + (day-1) x 24h)")
		fs.BoolVar(&o.defaultIfOnly, "default-interface-only", false, "record only each pod's default interface (kubeletstats without collect_all_network_interfaces)")
	} else {
		fs.StringVar(&o.listen, "listen", "127.0.0.1:10255", "address of the first node's listener; further nodes take the following ports (port 0: each its own ephemeral port)")
		fs.StringVar(&o.nodes, "node", "", "comma-separated nodes to serve (default: all nodes of the cluster)")
		fs.BoolVar(&o.baselineOnly, "baseline-only", false, "write --baseline-out (and --scenario-out) and exit without serving")
		fs.DurationVar(&o.duration, "duration", 0, "exit after this long (0: until SIGINT or SIGTERM)")
	}
	fs.StringVar(&o.configPath, "config", "", "cluster config JSON (default: the built-in estate named by --estate)")
	fs.StringVar(&o.estate, "estate", "", "built-in cluster: "+strings.Join(kubeletsim.EstateNames(), " or ")+" (default: default)")
	fs.IntVar(&o.day, "day", 0, "estate day simulated time 0 falls on, from 1 (default: the config's day, else 1); the baseline covers the time before it")
	fs.StringVar(&o.incidentsPath, "incidents", "", "incidents JSON")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of all names, UIDs and noise")
	fs.StringVar(&o.scenarioOut, "scenario-out", "", "write the resolved scenario JSON here (atomically, before serving)")
	fs.StringVar(&o.baselineOut, "baseline-out", "", "write the baseline CSV of normal traffic here (atomically, before serving)")
	fs.DurationVar(&o.baselineSpan, "baseline-span", 10*time.Second, "span length of the baseline (whole seconds)")
	fs.IntVar(&o.baselineSpans, "baseline-spans", 2000, "number of spans of normal traffic the baseline simulates")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.baselineOnly && o.baselineOut == "" {
		return o, errors.New("--baseline-only needs --baseline-out")
	}
	if o.duration < 0 {
		return o, errors.New("--duration must not be negative")
	}
	if o.configPath != "" && o.estate != "" {
		return o, errors.New("--config and --estate: give one")
	}
	if o.estate != "" && kubeletsim.Estates[o.estate] == nil {
		return o, fmt.Errorf("--estate %q: want %s", o.estate, strings.Join(kubeletsim.EstateNames(), " or "))
	}
	if o.day < 0 {
		return o, errors.New("--day must be 1 or more")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg := kubeletsim.DefaultConfig()
	if o.estate != "" {
		cfg = kubeletsim.Estates[o.estate]()
	}
	if o.configPath != "" {
		if cfg, err = kubeletsim.LoadConfig(o.configPath); err != nil {
			return err
		}
	}
	if o.day > 0 {
		cfg.Day = o.day
	}
	var incidents []kubeletsim.Incident
	if o.incidentsPath != "" {
		if incidents, err = kubeletsim.LoadIncidents(o.incidentsPath); err != nil {
			return err
		}
	}
	start := time.Now()
	if o.record {
		start = recordEpoch.Add(time.Duration(max(1, cfg.Day)-1) * 24 * time.Hour)
		if o.start != "" {
			if start, err = time.Parse(time.RFC3339Nano, o.start); err != nil {
				return fmt.Errorf("--start: %w", err)
			}
		}
	}
	sim, err := kubeletsim.New(cfg, incidents, o.seed, start)
	if err != nil {
		return err
	}

	if o.baselineOut != "" {
		rows, err := sim.Baseline(o.baselineSpans, o.baselineSpan)
		if err != nil {
			return err
		}
		if err := kubeletsim.WriteFileAtomic(o.baselineOut, func(w io.Writer) error { return kubeletsim.WriteBaselineCSV(w, rows) }); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}
	if o.baselineOnly {
		return writeScenario(o.scenarioOut, sim.Scenario(nil))
	}
	if o.record {
		if err := writeScenario(o.scenarioOut, sim.Scenario(nil)); err != nil {
			return err
		}
		return record(sim, o, stdout, stderr)
	}

	var nodes []string
	if o.nodes != "" {
		nodes = strings.Split(o.nodes, ",")
	}
	srv, err := sim.Listen(o.listen, nodes)
	if err != nil {
		return err
	}
	// The scenario carries the bound addresses, so it is written after binding but before serving.
	if err := writeScenario(o.scenarioOut, sim.Scenario(srv.Addrs())); err != nil {
		for _, nl := range srv.Listeners() {
			nl.Listener.Close()
		}
		return err
	}
	for _, nl := range srv.Listeners() {
		fmt.Fprintf(stdout, "listening node=%s addr=%s\n", nl.Node, nl.Listener.Addr())
	}
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	return srv.Serve(ctx)
}

// record writes the recording to o.out (atomically when it is a file) and says what it wrote on stderr.
func record(sim *kubeletsim.Simulator, o options, stdout, stderr io.Writer) error {
	ro := kubeletsim.RecordOptions{Duration: o.duration, Interval: o.interval, DefaultInterfaceOnly: o.defaultIfOnly}
	var lines int
	write := func(w io.Writer) (err error) {
		lines, err = sim.Record(w, ro)
		return err
	}
	var err error
	if o.out == "-" {
		err = write(stdout)
	} else {
		err = kubeletsim.WriteFileAtomic(o.out, write)
	}
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	fmt.Fprintf(stderr, "kubeletsim record: %d lines, %v of data time from %s\n", lines, o.duration, sim.Start().UTC().Format(time.RFC3339))
	return nil
}

func writeScenario(path string, sc kubeletsim.Scenario) error {
	if path == "" {
		return nil
	}
	err := kubeletsim.WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(sc)
	})
	if err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	return nil
}
