package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/kubeletsim"
)

// restartScenario is a timing of the component and of the restart in TestRestart.
type restartScenario struct {
	span, window   time.Duration
	countThreshold int
	stopAt         time.Duration // SIGTERM once data time is this far into the window
	gap            time.Duration // from the old collector's exit to the new one's start
}

var (
	// The reproduction: SIGTERM 12-13 s into a 20 s window, start again 3 s later; the
	// downtime holds a whole span without points.
	restartLater = restartScenario{span: testSpan, window: testWindow, countThreshold: countThreshold,
		stopAt: 12 * time.Second, gap: 3 * time.Second}
	// A quick restart inside one span: SIGTERM at the first scrape of the window's middle span and
	// start again at once, so that the points after the restart belong to the span in progress at
	// the SIGTERM (with the search's 10 s spans, a restart of a few seconds does this).
	restartWithinSpan = restartScenario{span: 10 * time.Second, window: 30 * time.Second, countThreshold: 2,
		stopAt: 10 * time.Second, gap: 0}
)

// stateRestored is the engine's log line after it restored the state of the one node.
var stateRestored = regexp.MustCompile(`(?m)State restored\t.*("sources": 1\b.*)$`)

// storageComponentConfig is what the component is given to keep its detection state in the
// file_storage extension.
func storageComponentConfig() map[string]any {
	return map[string]any{
		"storage":             "file_storage",
		"checkpoint_interval": "5s", // short, so that periodic saves run alongside the shutdown's
	}
}

// TestRestart stops the collector with SIGTERM in the middle of a window and starts it again
// on the same file_storage directory (issue 7, item 4). With the component's storage set, the
// events of every window, the one straddling the restart included, must be those `k8snetio
// replay` gives on exactly the metrics the collector received: the first scrape after the
// restart carries the counters' increase over the downtime and replay sees the same points, so
// replay is the reference, not the simulator's ground truth. Two timings: the (a
// downtime holding a whole span) and a quick restart within one span, whose points after the
// restart must join the span in progress at the SIGTERM. The control run without storage shows
// that the straddled window is otherwise lost.
func TestRestart(t *testing.T) {
	bins := requireBinaries(t)
	replayBin := filepath.Join(filepath.Dir(bins.kubeletsim), "k8snetio")
	if fi, err := os.Stat(replayBin); err != nil || fi.IsDir() {
		t.Fatalf("%s is not a program (%v): `make tools` builds it", replayBin, err)
	}
	t.Parallel()
	for _, tc := range []struct {
		name    string
		w       wiring
		sc      restartScenario
		storage bool
	}{
		{"connector", connectorWiring, restartLater, true},
		{"processor", processorWiring, restartLater, true},
		{"connector_without_storage", connectorWiring, restartLater, false},
		{"connector_within_span", connectorWiring, restartWithinSpan, true},
		{"processor_within_span", processorWiring, restartWithinSpan, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testRestart(t, bins, replayBin, tc.w, tc.sc, tc.storage)
		})
	}
}

func testRestart(t *testing.T, bins binaries, replayBin string, w wiring, sc restartScenario, storage bool) {
	dir := t.TempDir()
	sim := startSimulatorWith(t, bins, dir, sc.span, "testdata/restart-incidents.json")
	incidents := []kubeletsim.ScenarioIncident{
		sim.incident(t, kubeletsim.IncidentExfiltration),
		sim.incident(t, kubeletsim.IncidentDownload),
	}
	setup := collectorSetup{wiring: w, sim: sim, hec: true, appendFiles: true, component: map[string]any{
		"span": sc.span.String(), "window": sc.window.String(), "count_threshold": sc.countThreshold,
	}}
	if storage {
		setup.storageDir = filepath.Join(dir, "storage")
		if err := os.Mkdir(setup.storageDir, 0o755); err != nil {
			t.Fatal(err)
		}
		setup.component = merge(setup.component, storageComponentConfig())
	}
	c := writeCollectorConfig(t, bins, dir, setup)
	c.start(t)
	metrics := newMetricsFile(c.metricsPath)
	events := newEventsFile(c.eventsPath)

	// The window to straddle: the first whole one after data flows and the incidents have begun.
	metrics.waitFirst(t, c)
	from := sim.latestIncidentStart(metrics.newest)
	win := alignDown(from, sc.window).Add(sc.window)
	next := win.Add(sc.window)
	t.Logf("first data at %v; straddling the window [%v, %v)", metrics.newest, win, next)

	waitDataTime := func(what string, until time.Time) {
		t.Helper()
		metrics.waitDataTime(t, c, what, until, 60*time.Second)
	}
	waitDataTime("data time in the middle of the window", win.Add(sc.stopAt))
	first := c.proc
	c.stop(t)
	stopped := time.Now()
	if err := metrics.read(); err != nil {
		t.Fatal(err)
	}
	stopData := metrics.newest
	t.Logf("SIGTERM at data time %v (%v into the window)", stopData, stopData.Sub(win))
	if !metrics.newest.Before(next) {
		t.Fatalf("data time %v at the stop, past the window's end %v: the machine is too slow for this test's timing", metrics.newest, next)
	}
	// The downtime is the scenario: the collector is away, the kubelet's counters go on.
	time.Sleep(sc.gap - time.Since(stopped))
	c.start(t)
	second := c.proc
	if storage {
		// Not fatal: the events below show what a missing restore costs.
		if err := poll(10*time.Second, func() error {
			if stateRestored.MatchString(second.stderr.String()) {
				return nil
			}
			return c.orDead(fmt.Errorf(`no "State restored" line with "sources": 1 in its log`))
		}); err != nil {
			t.Errorf("the restarted collector did not restore the detection state: %v", err)
		}
	}

	eventually(t, 60*time.Second, "data after the restart", func() error {
		if err := metrics.read(); err != nil {
			return err
		}
		if !metrics.newest.After(stopData) {
			return c.orDead(fmt.Errorf("data time %v, as at the stop", metrics.newest))
		}
		return nil
	})
	same := alignDown(metrics.newest, sc.span).Equal(alignDown(stopData, sc.span))
	t.Logf("data after the restart at %v (%v after the last before it; in the same span: %v)", metrics.newest, metrics.newest.Sub(stopData), same)

	// Run on until the window after the straddled one has closed in data time and each incident
	// pod has an event for it or a later window over HEC: events are emitted in window order, so
	// the straddled window's are in by then. (A stop does not wait for them: the splunk_hec
	// receiver stops before the exporter's queue drains.) A later window, because after a slow
	// restart the window after the straddled one may have too few spans for an event.
	closed := next.Add(sc.window + testLateness + 2*time.Second)
	waitDataTime("data time past the window after the restart", closed)
	eventually(t, 90*time.Second, "events after the straddled window over HEC", func() error {
		evs, err := events.read()
		if err != nil {
			return err
		}
		for _, in := range incidents {
			if !hasEventFrom(evs, in.Pod, next) {
				return c.orDead(fmt.Errorf("no event for %s in a window from %v on yet (%d events)", in.Pod, next, len(evs)))
			}
		}
		return nil
	})
	late := logDrops(t, c)
	c.stop(t)
	if storage && late > 0 {
		t.Errorf("the restarted collector dropped %v points as late: the saved state had closed the span in progress at the SIGTERM, "+
			"so the rest of that scrape round was lost (the shutdown must not close it)", late)
	}
	if m := stateRestored.FindStringSubmatch(second.stderr.String()); m != nil {
		t.Logf("the restarted collector logged: State restored {%s", m[1])
	}

	for _, p := range []*process{first, second} {
		for _, bad := range []string{"Cannot save the detection state", "Cannot load the saved state", "Skipping a saved state entry"} {
			if strings.Contains(p.stderr.String(), bad) {
				t.Errorf("%s logged %q", p.name, bad)
			}
		}
	}

	live, err := events.read()
	if err != nil {
		t.Fatal(err)
	}
	want := runReplay(t, replayBin, c)

	// Compare every window up to the one after the restart: all have closed in both.
	through := next.Add(sc.window)
	got := map[string]string{}
	for _, ev := range live {
		k, body := eventKey(ev.body), canonicalJSON(t, ev.body)
		if end, _ := ev.num("window_end"); end > float64(through.Unix()) {
			continue
		}
		if _, dup := got[k]; dup {
			t.Errorf("two events for %s", k)
		}
		got[k] = body
	}
	exp := map[string]string{}
	for _, b := range want {
		if end, _ := b["window_end"].(float64); end > float64(through.Unix()) {
			continue
		}
		exp[eventKey(b)] = canonicalJSON(t, b)
	}
	logEvents(t, "over HEC", got)
	logEvents(t, "from replay", exp)

	// The scenario must have made the straddled window anomalous in the reference.
	for _, in := range incidents {
		k := in.Pod + " " + win.UTC().Format(time.RFC3339)
		if _, ok := exp[k]; !ok {
			t.Fatalf("replay gives no event for %s in the straddled window %v: the scenario does not exercise the restart", in.Pod, win)
		}
	}

	if !storage {
		// The control: without storage the straddled window's events differ from replay's.
		lost := 0
		for _, in := range incidents {
			k := in.Pod + " " + win.UTC().Format(time.RFC3339)
			if got[k] != exp[k] {
				lost++
			}
		}
		if lost == 0 {
			t.Errorf("without storage the straddled window's events equal replay's: the control shows nothing about the restart")
		}
		return
	}

	for _, in := range incidents {
		k := in.Pod + " " + win.UTC().Format(time.RFC3339)
		if got[k] != exp[k] {
			t.Errorf("straddled window, %s:\n over HEC:    %s\n from replay: %s", in.Pod, orNone(got[k]), exp[k])
		}
	}
	var keys []string
	for k := range exp {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := exp[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != exp[k] {
			t.Errorf("event %s:\n over HEC:    %s\n from replay: %s", k, orNone(got[k]), orNone(exp[k]))
		}
	}
}

// logDrops logs the restarted collector's counts of dropped points by reason and returns those
// dropped as late: after a restart, they mean the restored state had closed their span.
func logDrops(t *testing.T, c *collector) (late float64) {
	t.Helper()
	resp, err := telemetryClient.Get(c.telemetryURL)
	if err != nil {
		t.Errorf("telemetry: %v", err)
		return 0
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("telemetry: %v", err)
		return 0
	}
	var drops []string
	for _, l := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(l, "otelcol_k8s_netio_anomaly_datapoints_dropped") {
			continue
		}
		drops = append(drops, l)
		if f := strings.Fields(l); strings.Contains(l, `reason="late"`) && len(f) >= 2 {
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			late += v
		}
	}
	t.Logf("points dropped after the restart: %v", drops)
	return late
}

// alignDown is the start of the span or window of length d holding t: they are aligned in Unix time.
func alignDown(t time.Time, d time.Duration) time.Time {
	return time.Unix(0, t.UnixNano()/int64(d)*int64(d)).UTC()
}

// hasEventFrom says whether evs hold an event for pod in a window starting at from or later.
func hasEventFrom(evs []event, pod string, from time.Time) bool {
	for _, ev := range evs {
		if s, _ := ev.num("window_start"); ev.str("k8s.pod.name") == pod && int64(s) >= from.Unix() {
			return true
		}
	}
	return false
}

// runReplay runs `k8snetio replay` with the collector's config over the metrics it recorded.
func runReplay(t *testing.T, replayBin string, c *collector) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, replayBin, "replay", "--config", c.configPath, c.metricsPath)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("k8snetio replay: %v\n%s", err, stderr.String())
	}
	t.Logf("k8snetio replay: %s", strings.TrimSpace(stderr.String()))
	var out []map[string]any
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var b map[string]any
		if err := dec.Decode(&b); err != nil {
			t.Fatalf("k8snetio replay output: %v", err)
		}
		out = append(out, b)
	}
	return out
}

// eventKey names an event by pod and window start.
func eventKey(body map[string]any) string {
	pod, _ := body["k8s.pod.name"].(string)
	var start int64
	switch v := body["window_start"].(type) {
	case int64:
		start = v
	case float64:
		start = int64(v)
	}
	return pod + " " + time.Unix(start, 0).UTC().Format(time.RFC3339)
}

// canonicalJSON encodes an event body so that equal events compare equal whichever way their
// numbers were decoded (int64 after HEC, float64 from replay's JSON) and maps were ordered.
func canonicalJSON(t *testing.T, body map[string]any) string {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if b, err = json.Marshal(v); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func logEvents(t *testing.T, where string, evs map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(evs))
	for k := range evs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		var body struct {
			Count int `json:"count"`
		}
		_ = json.Unmarshal([]byte(evs[k]), &body)
		fmt.Fprintf(&b, "\n  %s count %d", k, body.Count)
	}
	t.Logf("%d events %s:%s", len(evs), where, b.String())
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
