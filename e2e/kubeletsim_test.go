package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/kubeletsim"
)

// binaries are the programs under test, built by `make test`.
type binaries struct {
	collector  string // the ocb-built collector
	kubeletsim string
}

// requireBinaries skips the test unless `make test` said where the built programs are.
func requireBinaries(t testing.TB) binaries {
	t.Helper()
	collector, bin := os.Getenv("K8SNETIO_COLLECTOR"), os.Getenv("K8SNETIO_BIN")
	if collector == "" || bin == "" {
		t.Skip("end-to-end test skipped: K8SNETIO_COLLECTOR and K8SNETIO_BIN are unset; `make test` builds the collector and bin/ and sets them")
	}
	b := binaries{collector: collector, kubeletsim: filepath.Join(bin, "kubeletsim")}
	for _, p := range []string{b.collector, b.kubeletsim} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			t.Fatalf("K8SNETIO_COLLECTOR=%q K8SNETIO_BIN=%q: %s is not a program (%v)", collector, bin, p, err)
		}
	}
	return b
}

// simulator is a running kubeletsim and the scenario it wrote.
type simulator struct {
	proc     *process
	addr     string // host:port of the one node's /stats/summary
	scenario kubeletsim.Scenario
	start    time.Time // wall time of simulated second 0
	baseline string    // the CSV of its normal traffic, per span
}

var listeningLine = regexp.MustCompile(`(?m)^listening node=(\S+) addr=(127\.0\.0\.1:\d+)$`)

// startSimulator serves testdata/cluster.json with testdata/incidents.json and writes the
// scenario and a baseline for the given span into dir.
func startSimulator(t *testing.T, bins binaries, dir string, span time.Duration) *simulator {
	t.Helper()
	return startSimulatorWith(t, bins, dir, span, "testdata/incidents.json")
}

// startSimulatorWith is startSimulator with another incidents file.
func startSimulatorWith(t *testing.T, bins binaries, dir string, span time.Duration, incidents string) *simulator {
	t.Helper()
	return startSimulatorOn(t, bins, dir, span, "testdata/cluster.json", incidents)
}

// startSimulatorOn is startSimulatorWith on another cluster file.
func startSimulatorOn(t *testing.T, bins binaries, dir string, span time.Duration, cluster, incidents string) *simulator {
	t.Helper()
	s := &simulator{baseline: filepath.Join(dir, "sim-baseline.csv")}
	scenarioPath := filepath.Join(dir, "scenario.json")
	s.proc = startProcess(t, "kubeletsim", bins.kubeletsim,
		"--listen", "127.0.0.1:0",
		"--config", cluster,
		"--incidents", incidents,
		"--seed", "7",
		"--scenario-out", scenarioPath,
		"--baseline-out", s.baseline,
		"--baseline-span", span.String(),
	)
	eventually(t, 30*time.Second, "kubeletsim listening", func() error {
		if m := listeningLine.FindStringSubmatch(s.proc.stdout.String()); m != nil {
			s.addr = m[2]
			return nil
		}
		if done, err := s.proc.exited(); done {
			return fmt.Errorf("%w: kubeletsim exited: %v", errGiveUp, err)
		}
		return fmt.Errorf("no %q line on stdout yet", "listening")
	})
	data, err := os.ReadFile(scenarioPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s.scenario); err != nil {
		t.Fatalf("%s: %v", scenarioPath, err)
	}
	if s.start, err = time.Parse(time.RFC3339Nano, s.scenario.StartTime); err != nil {
		t.Fatalf("scenario startTime: %v", err)
	}
	if len(s.scenario.Nodes) != 1 {
		t.Fatalf("scenario has %d nodes, the tests assume one", len(s.scenario.Nodes))
	}
	return s
}

func (s *simulator) cluster() string { return s.scenario.Cluster }
func (s *simulator) node() string    { return s.scenario.Nodes[0].Name }

// incident returns the scenario's only incident of that kind.
func (s *simulator) incident(t *testing.T, kind string) kubeletsim.ScenarioIncident {
	t.Helper()
	var found []kubeletsim.ScenarioIncident
	for _, in := range s.scenario.Incidents {
		if in.Kind == kind {
			found = append(found, in)
		}
	}
	if len(found) != 1 {
		t.Fatalf("scenario has %d %s incidents, want 1", len(found), kind)
	}
	return found[0]
}

// incidentStart is when the incident's effect begins: the first whole simulated second at or after its start.
func (s *simulator) incidentStart(in kubeletsim.ScenarioIncident) time.Time {
	return s.start.Add(time.Duration(math.Ceil(in.Start)) * time.Second)
}

// latestIncidentStart is the start of the scenario's last incident to begin, or from if all began
// before it.
func (s *simulator) latestIncidentStart(from time.Time) time.Time {
	for _, in := range s.scenario.Incidents {
		if st := s.incidentStart(in); st.After(from) {
			from = st
		}
	}
	return from
}

// keys are the scenario's distinct baseline keys (cluster:service), sorted.
func (s *simulator) keys() []string {
	seen := map[string]bool{}
	var keys []string
	for _, p := range s.scenario.Pods {
		if !seen[p.Key] {
			seen[p.Key] = true
			keys = append(keys, p.Key)
		}
	}
	sort.Strings(keys)
	return keys
}
