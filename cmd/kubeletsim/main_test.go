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

// record writes a day's worth of lines without serving or sleeping; consecutive days follow
// each other in data time; the same arguments write the same bytes.
func TestRecord(t *testing.T) {
	dir := t.TempDir()
	rec := func(name string, extra ...string) (string, kubeletsim.Scenario) {
		t.Helper()
		out, scen := filepath.Join(dir, name+".jsonl"), filepath.Join(dir, name+".json")
		var stderr strings.Builder
		args := append([]string{"record", "--estate", "mixed", "--duration", "3m", "--interval", "10s",
			"--incidents", "../../internal/kubeletsim/testdata/incidents-mixed.json",
			"--out", out, "--scenario-out", scen, "--seed", "5"}, extra...)
		if err := run(context.Background(), args, io.Discard, &stderr); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.Contains(stderr.String(), "kubeletsim record: 36 lines") {
			t.Errorf("stderr %q", stderr.String())
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var sc kubeletsim.Scenario
		b, err := os.ReadFile(scen)
		if err != nil || json.Unmarshal(b, &sc) != nil {
			t.Fatalf("scenario: %v", err)
		}
		return string(data), sc
	}
	d1, sc1 := rec("day1")
	again, _ := rec("again")
	d2, sc2 := rec("day2", "--day", "2", "--baseline-out", filepath.Join(dir, "b2.csv"), "--baseline-spans", "10")
	if d1 != again {
		t.Error("the same arguments recorded different bytes")
	}
	if d1 == d2 {
		t.Error("day 1 and day 2 recorded the same bytes")
	}
	if lines := strings.Count(d1, "\n"); lines != 36 {
		t.Errorf("%d lines, want 36 (2 nodes, 18 scrapes)", lines)
	}
	if sc1.StartTime != "2026-01-01T00:00:00Z" || sc1.Day != 1 || sc2.StartTime != "2026-01-02T00:00:00Z" || sc2.Day != 2 ||
		sc2.EstateStart != sc1.StartTime {
		t.Errorf("day 1 starts %s (day %d), day 2 %s (day %d, estate %s)", sc1.StartTime, sc1.Day, sc2.StartTime, sc2.Day, sc2.EstateStart)
	}
	if len(sc1.Incidents) != 7 || len(sc1.Pods) != 25 {
		t.Errorf("%d incidents, %d pods", len(sc1.Incidents), len(sc1.Pods))
	}
	shifted := 0
	for _, p := range sc1.Pods {
		if len(p.Schedule) > 0 {
			shifted++
		}
	}
	if shifted != 4 {
		t.Errorf("%d pods with a schedule, want 4 (3 level shifts, 1 surge)", shifted)
	}
	if _, err := os.Stat(filepath.Join(dir, "b2.csv")); err != nil {
		t.Error(err)
	}
	// Written as the file exporter writes: every line an OTLP metrics request.
	for i, line := range strings.Split(strings.TrimSuffix(d1, "\n"), "\n") {
		if !strings.HasPrefix(line, `{"resourceMetrics":[`) || !json.Valid([]byte(line)) {
			t.Fatalf("line %d: %.80s", i+1, line)
		}
	}
}

func TestEstateAndDayArguments(t *testing.T) {
	for _, args := range [][]string{
		{"--estate", "nope", "--baseline-only", "--baseline-out", "x"},
		{"--estate", "mixed", "--config", "c.json", "--baseline-only", "--baseline-out", "x"},
		{"--day", "-1", "--baseline-only", "--baseline-out", "x"},
		{"--day", "99", "--baseline-only", "--baseline-out", filepath.Join(t.TempDir(), "b.csv")},
		{"record", "--listen", "127.0.0.1:0"},
		{"record", "--interval", "0s", "--out", filepath.Join(t.TempDir(), "r.jsonl")},
		{"record", "--start", "yesterday", "--out", filepath.Join(t.TempDir(), "r.jsonl")},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: want an error", args)
		}
	}
}
