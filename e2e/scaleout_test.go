package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/kubeletsim"
)

// scaleOutGateways is the size of the gateway tier in TestScaleOut.
const scaleOutGateways = 3

// TestScaleOut runs the scale-out form (issue 9, item 2): one agent scrapes the simulated kubelet
// and sends the pod metrics through the loadbalancing exporter (routing_key: resource, static
// resolver, the exporter's DEFAULT queue settings: its per-gateway OTLP exporters deliver out of
// order) to three gateways, each with the connector and the splunk_hec exporter into a HEC
// receiver. The events at HEC, all gateways together, must be exactly those `k8snetio replay`
// gives on the metrics the agent sent (one engine seeing every pod), with no duplicates, but for
// the peer context (peers_total, peers_anomalous: a gateway counts only the pods of the service it
// holds), and every gateway must have carried a share of the pods, each pod on one gateway only.
// The gateways also learn per pod: their partial baselines merged equal one learner's (item 3).
func TestScaleOut(t *testing.T) { testScaleOut(t, scaleOutRun{lateness: testLateness}) }

// TestScaleOutGatewayRestart is TestScaleOut with one gateway stopped (SIGTERM) in the middle of
// the incidents' window and started again (issue 9, item 2: what a stopped gateway loses, made as
// small as the design allows). With `storage` on file_storage the gateway saves its detection
// state and restores it; the static ring keeps its pods on it; the agent's per-gateway exporter
// retries the batches it could not deliver meanwhile (default retry settings: first retry after
// 2.5-7.5 s); and lateness (15 s here) covers that delay, so the late batches are put in order.
// Then nothing is lost: the events are exactly replay's, as without the restart.
func TestScaleOutGatewayRestart(t *testing.T) {
	testScaleOut(t, scaleOutRun{lateness: 15 * time.Second, restartGateway: 1})
}

// scaleOutRun is one variant of the scale-out test.
type scaleOutRun struct {
	lateness       time.Duration
	restartGateway int // 1-based; 0: none is restarted
}

func testScaleOut(t *testing.T, run scaleOutRun) {
	bins := requireBinaries(t)
	replayBin := filepath.Join(filepath.Dir(bins.kubeletsim), "k8snetio")
	if fi, err := os.Stat(replayBin); err != nil || fi.IsDir() {
		t.Fatalf("%s is not a program (%v): `make tools` builds it", replayBin, err)
	}
	t.Parallel()
	dir := t.TempDir()
	// 31 pods: with 6 (testdata/cluster.json) the ring could leave a gateway without a pod.
	sim := startSimulatorOn(t, bins, dir, testSpan, "testdata/scaleout-cluster.json", "testdata/scaleout-incidents.json")
	var incidents []kubeletsim.ScenarioIncident
	for _, in := range sim.scenario.Incidents {
		incidents = append(incidents, in)
	}

	gateways := make([]*scaleOutGateway, scaleOutGateways)
	var endpoints []string
	for i := range gateways {
		gateways[i] = writeGatewayConfig(t, bins, filepath.Join(dir, fmt.Sprintf("gateway-%d", i)), sim, run)
		endpoints = append(endpoints, gateways[i].otlpEndpoint)
	}
	agent := writeAgentConfig(t, bins, filepath.Join(dir, "agent"), sim, endpoints)
	for _, g := range gateways {
		g.start(t)
	}
	agent.start(t)

	// Run until two whole windows after the incidents began have closed in data time.
	metrics := newMetricsFile(agent.metricsPath)
	metrics.waitFirst(t, agent)
	from := sim.latestIncidentStart(metrics.newest)
	until := alignDown(from, testWindow).Add(3*testWindow + run.lateness + testSpan)
	if run.restartGateway > 0 {
		// Half a window into the incidents: the window in progress holds anomalous spans from
		// before the stop and gets more after it.
		restartGateway(t, gateways[run.restartGateway-1], agent, metrics, from.Add(testWindow/2))
	}
	metrics.waitDataTime(t, agent, "data time past two whole windows of the incidents", until, 90*time.Second)
	// A graceful stop sends what the agent holds on to the gateways, so the metrics file holds
	// every point the gateways got.
	agent.stop(t)
	if err := metrics.read(); err != nil {
		t.Fatal(err)
	}
	// Windows that have closed in data time at every gateway: all pods are scraped together, so
	// every gateway's data time is the agent's.
	through := alignDown(metrics.newest.Add(-run.lateness), testWindow)
	t.Logf("agent stopped at data time %v; comparing the windows ending by %v", metrics.newest, through)

	exp := map[string]string{}
	for _, b := range runReplay(t, replayBin, &collector{configPath: gateways[0].configPath, metricsPath: agent.metricsPath}) {
		if end, _ := b["window_end"].(float64); end > float64(through.Unix()) {
			continue
		}
		exp[eventKey(b)] = canonicalJSON(t, b)
	}
	for _, in := range incidents {
		if !hasKeyFor(exp, in.Pod) {
			t.Fatalf("replay gives no event for the incident pod %s by %v: the scenario exercises nothing", in.Pod, through)
		}
	}

	got := map[string]string{}
	sentBy := map[string]int{} // which gateway sent each event
	collect := func() (dups []string, err error) {
		got, sentBy = map[string]string{}, map[string]int{}
		for i, g := range gateways {
			evs, err := g.events.read()
			if err != nil {
				return nil, err
			}
			for _, ev := range evs {
				if end, _ := ev.num("window_end"); end > float64(through.Unix()) {
					continue
				}
				k := eventKey(ev.body)
				if j, dup := sentBy[k]; dup {
					dups = append(dups, fmt.Sprintf("%s from gateways %d and %d", k, j, i))
				}
				got[k], sentBy[k] = canonicalJSON(t, ev.body), i
			}
		}
		return dups, nil
	}
	// Events travel over HEC asynchronously: wait for all of them (the gateways' idle flush
	// closes nothing up to `through` that data time had not closed).
	err := poll(90*time.Second, func() error {
		if _, err := collect(); err != nil {
			return err
		}
		for k := range exp {
			if _, ok := got[k]; !ok {
				return fmt.Errorf("no event %s over HEC yet (%d of %d)", k, len(got), len(exp))
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("waiting for the events over HEC: %v", err)
	}
	for _, g := range gateways {
		g.stop(t)
	}
	dups, err := collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dups {
		t.Errorf("duplicate event: %s", d)
	}
	logEvents(t, "over HEC (all gateways)", got)
	logEvents(t, "from replay", exp)
	// The peer context is the one part a shard cannot know: peers_total and peers_anomalous count
	// the service's pods scored in the window by the same engine, and a gateway holds only its
	// share of them. Everything else must be equal; the shard's counts at most replay's.
	for _, k := range unionKeys(got, exp) {
		g, gp := withoutPeers(t, got[k])
		e, ep := withoutPeers(t, exp[k])
		if g != e {
			t.Errorf("event %s:\n over HEC (gateway %d): %s\n from replay:          %s", k, sentBy[k], orNone(got[k]), orNone(exp[k]))
			continue
		}
		if gp[0] > ep[0] || gp[1] > ep[1] || gp[1] < 1 {
			t.Errorf("event %s: peers_anomalous/peers_total %d/%d at the gateway, %d/%d in replay", k, gp[0], gp[1], ep[0], ep[1])
		}
		if gp != ep {
			t.Logf("event %s: peers_anomalous/peers_total %d/%d at gateway %d (its share of the service), %d/%d in replay", k, gp[0], gp[1], sentBy[k], ep[0], ep[1])
		}
	}

	// Every gateway carried a share, and each pod went to exactly one gateway.
	owner := map[string]int{}
	for i, g := range gateways {
		mf := newMetricsFile(g.metricsPath)
		if err := mf.read(); err != nil {
			t.Fatal(err)
		}
		if len(mf.last) == 0 {
			t.Errorf("gateway %d received no pod", i)
		}
		pods := map[string]bool{}
		for series := range mf.last {
			pods[strings.SplitN(series, "|", 2)[0]] = true
		}
		for p := range pods {
			if j, ok := owner[p]; ok {
				t.Errorf("pod %s reached gateways %d and %d", p, j, i)
			}
			owner[p] = i
		}
		t.Logf("gateway %d: %d pods, %d points", i, len(pods), mf.total)
	}
	if len(owner) != len(sim.scenario.Pods) {
		t.Errorf("%d pods reached the gateways, the scenario has %d", len(owner), len(sim.scenario.Pods))
	}

	if run.restartGateway > 0 {
		return // the partial baselines are TestScaleOut's subject
	}
	// One cluster baseline from the shards: the gateways' partial files (written at their
	// shutdown, which closes every span) merged with `k8snetio baseline merge` equal the baseline
	// one learner builds from the same metrics (`k8snetio baseline build` on the agent's file).
	var parts []string
	for _, g := range gateways {
		parts = append(parts, g.learnedPath)
	}
	merged, single := filepath.Join(dir, "merged.csv"), filepath.Join(dir, "single.csv")
	runK8snetio(t, replayBin, append([]string{"baseline", "merge", "--out", merged}, parts...)...)
	runK8snetio(t, replayBin, "baseline", "build", "--config", gateways[0].configPath, "--out", single, agent.metricsPath)
	compareBaselines(t, mustReadCSV(t, merged), mustReadCSV(t, single))
}

func runK8snetio(t *testing.T, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("k8snetio %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("k8snetio %s: %s", args[1], strings.TrimSpace(string(out)))
}

// compareBaselines checks that two baseline files hold the same columns, keys and figures, the
// floating-point ones up to rounding (a merge combines means and variances pairwise).
func compareBaselines(t *testing.T, merged, single csvTable) {
	t.Helper()
	if strings.Join(merged.header, ",") != strings.Join(single.header, ",") {
		t.Fatalf("merged columns %v, one learner's %v", merged.header, single.header)
	}
	if len(merged.rows) != len(single.rows) || len(single.rows) == 0 {
		t.Errorf("merged %d keys, one learner %d", len(merged.rows), len(single.rows))
	}
	rows := map[string][]string{}
	for _, r := range merged.rows {
		rows[r[0]] = r
	}
	for _, want := range single.rows {
		got, ok := rows[want[0]]
		if !ok {
			t.Errorf("key %s: not in the merged baseline", want[0])
			continue
		}
		for i := 1; i < len(want); i++ {
			if got[i] == want[i] {
				continue
			}
			g, err1 := strconv.ParseFloat(got[i], 64)
			w, err2 := strconv.ParseFloat(want[i], 64)
			if err1 != nil || err2 != nil || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
				t.Errorf("key %s, %s: merged %q, one learner %q", want[0], single.header[i], got[i], want[i])
			}
		}
	}
	t.Logf("merged baseline of %d keys equals one learner's", len(single.rows))
}

// withoutPeers splits an event's canonical JSON into the rest and its [peers_anomalous, peers_total].
func withoutPeers(t *testing.T, body string) (string, [2]int) {
	t.Helper()
	if body == "" {
		return "", [2]int{}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	a, _ := m["peers_anomalous"].(float64)
	n, _ := m["peers_total"].(float64)
	delete(m, "peers_anomalous")
	delete(m, "peers_total")
	return canonicalJSON(t, m), [2]int{int(a), int(n)}
}

func hasKeyFor(evs map[string]string, pod string) bool {
	for k := range evs {
		if strings.HasPrefix(k, pod+" ") {
			return true
		}
	}
	return false
}

func unionKeys(a, b map[string]string) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// scaleOutGateway is one gateway of TestScaleOut: OTLP in, the connector, splunk_hec out into its
// own splunk_hec receiver, whose logs pipeline writes the events file.
type scaleOutGateway struct {
	*collector
	otlpEndpoint string
	events       *eventsFile
	learnedPath  string // its partial baseline
}

func writeGatewayConfig(t *testing.T, bins binaries, dir string, sim *simulator, run scaleOutRun) *scaleOutGateway {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const comp = "k8s_netio_anomaly"
	g := &scaleOutGateway{collector: &collector{
		bins:        bins,
		configPath:  filepath.Join(dir, "collector.yaml"),
		eventsPath:  filepath.Join(dir, "events.json"),
		metricsPath: filepath.Join(dir, "metrics.json"),
	}}
	g.events = newEventsFile(g.eventsPath)
	g.learnedPath = filepath.Join(dir, "learned.csv")
	g.otlpEndpoint = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	hecPort := freePort(t)
	fileExporter := func(path string) map[string]any {
		return map[string]any{"path": path, "format": "json", "flush_interval": "200ms"}
	}
	cfg := map[string]any{
		"receivers": map[string]any{
			"otlp":       map[string]any{"protocols": map[string]any{"grpc": map[string]any{"endpoint": g.otlpEndpoint}}},
			"splunk_hec": map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", hecPort)},
		},
		"connectors": map[string]any{comp: map[string]any{
			"span":            testSpan.String(),
			"window":          testWindow.String(),
			"lateness":        run.lateness.String(),
			"idle_flush":      "5s",
			"count_threshold": countThreshold,
			"baseline":        map[string]any{"path": sim.baseline},
			"event":           map[string]any{"sourcetype": eventSourcetype, "source": eventSource, "index": eventIndex},
			// Each gateway learns its partial baseline (issue 9, item 3): per pod, with the
			// signal counts and no min_count, so that the parts merge exactly.
			"learn": map[string]any{"enabled": true, "per_pod": true, "signal_counts": true, "min_count": 0,
				"path": g.learnedPath, "write_interval": "5s"},
		}},
		"exporters": map[string]any{
			"file/metrics": fileExporter(g.metricsPath),
			"file/events":  fileExporter(g.eventsPath),
			"splunk_hec": map[string]any{
				"token":    hecToken,
				"endpoint": fmt.Sprintf("http://127.0.0.1:%d/services/collector", hecPort),
			},
		},
		"service": map[string]any{
			"pipelines": map[string]any{
				"metrics":        map[string]any{"receivers": []string{"otlp"}, "exporters": []string{"file/metrics", comp}},
				"logs/anomalies": map[string]any{"receivers": []string{comp}, "exporters": []string{"splunk_hec"}},
				"logs/hec":       map[string]any{"receivers": []string{"splunk_hec"}, "exporters": []string{"file/events"}},
			},
			"telemetry": map[string]any{"metrics": map[string]any{"level": "none"}},
		},
	}
	if run.restartGateway > 0 {
		storageDir := filepath.Join(dir, "storage")
		if err := os.Mkdir(storageDir, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg["extensions"] = map[string]any{"file_storage": map[string]any{"directory": storageDir}}
		cfg["service"].(map[string]any)["extensions"] = []string{"file_storage"}
		maps.Copy(cfg["connectors"].(map[string]any)[comp].(map[string]any), storageComponentConfig())
	}
	writeJSONConfig(t, g.configPath, cfg)
	return g
}

// restartGateway stops gateway g once the agent's data time reaches at, and starts it again on
// its saved state: it must say so in its log.
func restartGateway(t *testing.T, g *scaleOutGateway, agent *collector, metrics *metricsFile, at time.Time) {
	t.Helper()
	metrics.waitDataTime(t, agent, "data time at the gateway's restart", at, 60*time.Second)
	g.stop(t)
	t.Logf("gateway %s stopped at data time %v", g.otlpEndpoint, metrics.newest)
	time.Sleep(time.Second) // the agent's batches for it fail and wait for their retry meanwhile
	g.start(t)
	eventually(t, 10*time.Second, "the restarted gateway's restored state", func() error {
		if !stateRestored.MatchString(g.proc.stderr.String()) {
			return g.orDead(errors.New(`no "State restored" for one node in its log`))
		}
		return nil
	})
}

// writeAgentConfig is the agent: kubeletstats, the resource processor naming cluster and node, the
// loadbalancing exporter over the gateways (default queue settings), and a file of what it sent.
func writeAgentConfig(t *testing.T, bins binaries, dir string, sim *simulator, gateways []string) *collector {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &collector{bins: bins, configPath: filepath.Join(dir, "collector.yaml"), metricsPath: filepath.Join(dir, "metrics.json")}
	cfg := map[string]any{
		"receivers": map[string]any{"kubeletstats": map[string]any{
			"collection_interval":            "1s",
			"auth_type":                      "none",
			"endpoint":                       "http://" + sim.addr,
			"metric_groups":                  []string{"pod"},
			"collect_all_network_interfaces": map[string]any{"pod": true},
		}},
		"processors": map[string]any{"resource": map[string]any{"attributes": []any{
			map[string]any{"key": "k8s.cluster.name", "value": sim.cluster(), "action": "upsert"},
			map[string]any{"key": "k8s.node.name", "value": sim.node(), "action": "upsert"},
		}}},
		"exporters": map[string]any{
			"file/metrics": map[string]any{"path": c.metricsPath, "format": "json", "flush_interval": "200ms"},
			"loadbalancing": map[string]any{
				"routing_key": "resource",
				"protocol":    map[string]any{"otlp": map[string]any{"tls": map[string]any{"insecure": true}}},
				"resolver":    map[string]any{"static": map[string]any{"hostnames": gateways}},
			},
		},
		"service": map[string]any{
			"pipelines": map[string]any{"metrics": map[string]any{
				"receivers": []string{"kubeletstats"}, "processors": []string{"resource"},
				"exporters": []string{"file/metrics", "loadbalancing"},
			}},
			"telemetry": map[string]any{"metrics": map[string]any{"level": "none"}},
		},
	}
	writeJSONConfig(t, c.configPath, cfg)
	return c
}

func writeJSONConfig(t *testing.T, path string, cfg map[string]any) {
	t.Helper()
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- collector config %s ---\n%s", path, data)
		}
	})
}
