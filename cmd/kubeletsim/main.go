// Command kubeletsim serves simulated kubelet /stats/summary endpoints, one per node, for
// the kubeletstats receiver to scrape (auth_type: none, endpoint: http://<addr>), and can
// write the scenario it simulates and a baseline of its normal traffic.
// See package internal/kubeletsim for the model.
//
// Usage:
//
//	kubeletsim [--config cluster.json] [--incidents incidents.json] [--seed N]
//	    [--listen 127.0.0.1:10255] [--node NAME[,NAME...]]
//	    [--scenario-out scenario.json] [--baseline-out baseline.csv]
//	    [--baseline-span 10s] [--baseline-spans 2000] [--baseline-only] [--duration 0]
//
// For each served node it prints one line `listening node=<node> addr=<host:port>` on
// stdout once the listener is bound and the output files are written.
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
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("kubeletsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:10255", "address of the first node's listener; further nodes take the following ports (port 0: each its own ephemeral port)")
	fs.StringVar(&o.nodes, "node", "", "comma-separated nodes to serve (default: all nodes of the cluster)")
	fs.StringVar(&o.configPath, "config", "", "cluster config JSON (default: the built-in two-node cluster)")
	fs.StringVar(&o.incidentsPath, "incidents", "", "incidents JSON")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of all names, UIDs and noise")
	fs.StringVar(&o.scenarioOut, "scenario-out", "", "write the resolved scenario JSON here (atomically, before serving)")
	fs.StringVar(&o.baselineOut, "baseline-out", "", "write the baseline CSV of normal traffic here (atomically, before serving)")
	fs.DurationVar(&o.baselineSpan, "baseline-span", 10*time.Second, "span length of the baseline (whole seconds)")
	fs.IntVar(&o.baselineSpans, "baseline-spans", 2000, "number of spans of normal traffic the baseline simulates")
	fs.BoolVar(&o.baselineOnly, "baseline-only", false, "write --baseline-out (and --scenario-out) and exit without serving")
	fs.DurationVar(&o.duration, "duration", 0, "exit after this long (0: until SIGINT or SIGTERM)")
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
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg := kubeletsim.DefaultConfig()
	if o.configPath != "" {
		if cfg, err = kubeletsim.LoadConfig(o.configPath); err != nil {
			return err
		}
	}
	var incidents []kubeletsim.Incident
	if o.incidentsPath != "" {
		if incidents, err = kubeletsim.LoadIncidents(o.incidentsPath); err != nil {
			return err
		}
	}
	sim, err := kubeletsim.New(cfg, incidents, o.seed, time.Now())
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
