package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/kubeletsim"
)

func TestRunServesUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	scenarioPath := filepath.Join(dir, "scenario.json")
	baselinePath := filepath.Join(dir, "baseline.csv")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"--listen", "127.0.0.1:0",
			"--config", "../../internal/kubeletsim/testdata/cluster-one-node.json",
			"--incidents", "testdata/incidents.json",
			"--seed", "7",
			"--scenario-out", scenarioPath,
			"--baseline-out", baselinePath,
			"--baseline-spans", "200",
		}, stdoutW, io.Discard)
		stdoutW.Close()
	}()

	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatalf("reading stdout: %v (run: %v)", err, <-done)
	}
	m := regexp.MustCompile(`^listening node=(\S+) addr=(127\.0\.0\.1:\d+)\n$`).FindStringSubmatch(line)
	if m == nil || m[1] != "e2e-node" {
		t.Fatalf("stdout line %q", line)
	}
	go io.Copy(io.Discard, stdoutR)

	// The files exist before anything is served.
	var sc kubeletsim.Scenario
	data, err := os.ReadFile(scenarioPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sc); err != nil {
		t.Fatal(err)
	}
	if sc.Cluster != "e2e-cluster" || len(sc.Nodes) != 1 || sc.Nodes[0].Addr != m[2] || len(sc.Pods) != 6 ||
		len(sc.Incidents) != 1 || sc.Incidents[0].Pod != "db-1" || sc.Incidents[0].Key != "e2e-cluster:db-1" {
		t.Fatalf("scenario %s", data)
	}
	f, err := os.Open(baselinePath)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 1+5 || strings.Join(recs[0], ",") != strings.Join(kubeletsim.BaselineHeader, ",") {
		t.Fatalf("baseline %v %v", recs, err)
	}

	resp, err := http.Get("http://" + m[2] + "/stats/summary")
	if err != nil {
		t.Fatal(err)
	}
	var sum kubeletsim.Summary
	err = json.NewDecoder(resp.Body).Decode(&sum)
	resp.Body.Close()
	if err != nil || sum.Node.NodeName != "e2e-node" || len(sum.Pods) != 6 {
		t.Fatalf("summary %+v %v", sum.Node, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunStopsAfterDuration(t *testing.T) {
	start := time.Now()
	err := run(context.Background(), []string{"--listen", "127.0.0.1:0", "--duration", "300ms"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 10*time.Second {
		t.Fatalf("ran %v", d)
	}
}

func TestBaselineOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.csv")
	if err := run(context.Background(), []string{"--baseline-only", "--baseline-out", path, "--baseline-spans", "100", "--baseline-span", "5s"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(data), strings.Join(kubeletsim.BaselineHeader, ",")+"\n") || !strings.Contains(string(data), "sim-cluster:web,") {
		t.Fatalf("%s %v", data, err)
	}
	if err := run(context.Background(), []string{"--baseline-only"}, io.Discard, io.Discard); err == nil {
		t.Fatal("--baseline-only without --baseline-out: want an error")
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"--incidents", "missing.json"},
		{"--config", "missing.json"},
		{"--node", "nope", "--listen", "127.0.0.1:0"},
		{"--listen", "nonsense"},
		{"stray"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: want an error", args)
		}
	}
}
