package e2e

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/kubeletsim"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The tests spend their time waiting for data time to pass, not on CPU: let all of them run
	// at once even where -parallel defaults to 2 (GOMAXPROCS on a 2-core CI machine).
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}

// The anomaly text of the ratio signal the exfiltration raises, as the search writes it.
var outInText = regexp.MustCompile(`^outbound:inbound ratio higher than average by (\S+) Standard Deviations\. ` +
	`outbound:inbound=(\S+) avg_outbound:inbound=(\S+) 'stdev_outbound:inbound'=(\S+)$`)

// TestDetection runs the scenario through both wirings of the component: the exfiltrating pod,
// and only it, raises an event that arrives over HEC with the right fields and metadata, and the
// metrics reach their exporter unchanged.
func TestDetection(t *testing.T) {
	bins := requireBinaries(t)
	t.Parallel()
	for _, w := range []wiring{processorWiring, connectorWiring} {
		t.Run(string(w), func(t *testing.T) {
			t.Parallel()
			testDetection(t, bins, w)
		})
	}
}

func testDetection(t *testing.T, bins binaries, w wiring) {
	dir := t.TempDir()
	sim := startSimulator(t, bins, dir, testSpan)
	exfil, restart := sim.incident(t, kubeletsim.IncidentExfiltration), sim.incident(t, kubeletsim.IncidentRestart)
	base := mustReadCSV(t, sim.baseline)
	c := writeCollectorConfig(t, bins, dir, collectorSetup{wiring: w, sim: sim, hec: true, plainMetrics: true})
	c.start(t)

	// The first window wholly inside the incident closes by two windows and the lateness after its start.
	events := newEventsFile(c.eventsPath)
	eventually(t, time.Until(sim.incidentStart(exfil).Add(2*testWindow+testLateness+20*time.Second)), "an anomaly event over HEC", func() error {
		evs, err := events.read()
		if err != nil || len(evs) > 0 {
			return err
		}
		return c.orDead(errors.New("no event in the events file yet"))
	})
	eventually(t, 10*time.Second, "the component's telemetry", func() error {
		tm, err := c.telemetry()
		if err != nil {
			return c.orDead(err)
		}
		if n := tm.sum(telDatapointsUsed); !(n > 0) {
			return fmt.Errorf("%s = %v, want > 0", telDatapointsUsed, n)
		}
		if n := tm.sum(telEventsEmitted); !(n >= 1) {
			return fmt.Errorf("%s = %v, want >= 1", telEventsEmitted, n)
		}
		return nil
	})
	// The restart must have been scraped (a counter going down) for its "no event" to mean anything.
	plain := newMetricsFile(c.plainPath)
	eventually(t, time.Until(sim.incidentStart(restart).Add(20*time.Second)), "the restart seen by the receiver", func() error {
		if err := plain.read(); err != nil || plain.resets[restart.Pod] {
			return err
		}
		return c.orDead(fmt.Errorf("no counter of the restarted pod %s has gone down yet", restart.Pod))
	})
	// A graceful stop flushes the file exporters, so both metrics files end on the same batch.
	c.stop(t)

	evs, err := events.read()
	if err != nil {
		t.Fatal(err)
	}
	keepEvents(t, c.eventsPath, w)
	for _, ev := range evs {
		count, _ := ev.num("count")
		start, _ := ev.num("window_start")
		t.Logf("event over HEC: pod %s, count %.0f, window %v", ev.str("k8s.pod.name"), count, time.Unix(int64(start), 0).UTC())
	}
	for _, ev := range evs {
		if pod := ev.str("k8s.pod.name"); pod != exfil.Pod {
			t.Errorf("event for pod %s, want events only for the exfiltrating pod %s (restarted pod: %s): %v", pod, exfil.Pod, restart.Pod, ev)
			continue
		}
		checkEvent(t, sim, base, exfil, ev)
	}
	for _, ev := range evs {
		if ev.str("k8s.pod.name") == restart.Pod {
			t.Errorf("the restarted pod %s raised an event; a counter reset is not traffic: %v", restart.Pod, ev)
		}
	}

	checkMetricsUnchanged(t, sim, c)
}

// checkEvent checks one event of the exfiltrating pod against the scenario and the baseline it was scored with.
func checkEvent(t *testing.T, sim *simulator, base csvTable, exfil kubeletsim.ScenarioIncident, ev event) {
	t.Helper()
	node := sim.node()
	for k, want := range map[string]string{
		"k8s.cluster.name":   sim.cluster(),
		"host":               node,
		"k8s.pod.name":       exfil.Pod,
		"k8s.namespace.name": exfil.Namespace,
		"k8s.service":        exfil.DetectionService,
		"risk_object":        node,
		"risk_object_type":   "system",
		"message":            "Kubernetes Anomalous Inbound to Outbound Network IO Ratio from Container on host " + node,
		"detection_id":       "9d8f6e3f-39df-46d8-a9d4-96173edc501f",
	} {
		if got := ev.str(k); got != want {
			t.Errorf("event %s = %q, want %q", k, got, want)
		}
	}
	if rs, _ := ev.num("risk_score"); rs != 25 {
		t.Errorf("event risk_score = %v, want 25", ev.body["risk_score"])
	}
	if m, _ := ev.body["mitre_attack_id"].([]any); len(m) != 1 || m[0] != "T1204" {
		t.Errorf("event mitre_attack_id = %v, want [T1204]", ev.body["mitre_attack_id"])
	}

	// HEC metadata, where the splunk_hec receiver puts them.
	for k, want := range map[string]string{
		"com.splunk.sourcetype": eventSourcetype,
		"com.splunk.source":     eventSource,
		"com.splunk.index":      eventIndex,
		"host.name":             node,
	} {
		if got, _ := ev.resource[k].(string); got != want {
			t.Errorf("HEC metadata %s = %q, want %q (resource %v)", k, got, want, ev.resource)
		}
	}

	count, ok := ev.num("count")
	if !ok || count <= countThreshold || count > float64(spansPerWindow) {
		t.Errorf("event count = %v, want more than %d and at most %d (spans per window)", ev.body["count"], countThreshold, spansPerWindow)
	}
	start, _ := ev.num("window_start")
	end, _ := ev.num("window_end")
	win := testWindow.Seconds()
	if end-start != win || math.Mod(start, win) != 0 {
		t.Errorf("event window [%v, %v), want a %v s window aligned to multiples of it", start, end, win)
	}
	if end <= float64(sim.incidentStart(exfil).Unix()) {
		t.Errorf("event window ends at %v, before the incident started at %v", end, sim.incidentStart(exfil))
	}
	if got := ev.time.Unix(); float64(got) != end || ev.time.Nanosecond() != 0 {
		t.Errorf("event time %v, want the window end %v", ev.time, time.Unix(int64(end), 0).UTC())
	}

	avg := base.number(t, exfil.Key, "avg_outbound:inbound")
	stdev := base.number(t, exfil.Key, "stdev_outbound:inbound")
	texts, _ := ev.body["anomalies"].([]any)
	if len(texts) == 0 || float64(len(texts)) > count {
		t.Errorf("event has %d anomaly texts for count %v: %v", len(texts), count, ev.body["anomalies"])
	}
	for _, a := range texts {
		text, _ := a.(string)
		m := outInText.FindStringSubmatch(text)
		if m == nil {
			t.Errorf("anomaly text %q: want %q", text, outInText)
			continue
		}
		nums := make([]float64, 4) // z, value, avg, stdev
		for i := range nums {
			v, err := strconv.ParseFloat(m[i+1], 64)
			if err != nil {
				t.Errorf("anomaly text %q: %v", text, err)
			}
			nums[i] = v
		}
		z, v, gotAvg, gotStdev := nums[0], nums[1], nums[2], nums[3]
		if gotAvg != avg || gotStdev != stdev {
			t.Errorf("anomaly text %q: want avg_outbound:inbound=%v 'stdev_outbound:inbound'=%v from the baseline of %s", text, avg, stdev, exfil.Key)
		}
		if !(v > avg+4*stdev) {
			t.Errorf("anomaly text %q: the value is not above avg + 4 stdev", text)
		}
		if wantZ := math.Round((v-avg)/stdev*100) / 100; math.Abs(z-wantZ) > 1e-9 {
			t.Errorf("anomaly text %q: z = %v, want %v", text, z, wantZ)
		}
	}
}

// checkMetricsUnchanged compares the network points behind the component with those of the
// pipeline without it, as multisets.
func checkMetricsUnchanged(t *testing.T, sim *simulator, c *collector) {
	t.Helper()
	with, plain := newMetricsFile(c.metricsPath), newMetricsFile(c.plainPath)
	for _, mf := range []*metricsFile{with, plain} {
		if err := mf.read(); err != nil {
			t.Fatal(err)
		}
	}
	if with.total == 0 {
		t.Fatalf("no %s points reached %s", networkMetric, c.metricsPath)
	}
	var missing, extra []string
	for k, n := range plain.points {
		if d := n - with.points[k]; d > 0 {
			missing = append(missing, fmt.Sprintf("%dx %s", d, k))
		}
	}
	for k, n := range with.points {
		if d := n - plain.points[k]; d > 0 {
			extra = append(extra, fmt.Sprintf("%dx %s", d, k))
		}
	}
	t.Logf("%d %s points after the component, %d without it", with.total, networkMetric, plain.total)
	if len(missing)+len(extra) > 0 {
		sort.Strings(missing)
		sort.Strings(extra)
		t.Errorf("the %s points after the component differ from those without it (%d vs %d points):\nmissing after the component (first 5): %v\nonly after the component (first 5): %v",
			networkMetric, with.total, plain.total, firstN(missing, 5), firstN(extra, 5))
	}
	// Two-interface pods must show both, or the per-pod sum over interfaces was not exercised.
	for _, p := range sim.scenario.Pods {
		for _, ifc := range p.Interfaces {
			if !with.interfaces[p.Name][ifc] {
				t.Errorf("pod %s: no %s points for interface %s (collect_all_network_interfaces)", p.Name, networkMetric, ifc)
			}
		}
	}
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// TestBaselineHotReload swaps the baseline file under the running collector: from one under
// which the incident does not flag, to the real one (events start), to a broken one (the error
// is logged with its position and counted, and detection goes on with the last good baseline).
func TestBaselineHotReload(t *testing.T) {
	bins := requireBinaries(t)
	t.Parallel()
	dir := t.TempDir()
	sim := startSimulator(t, bins, dir, testSpan)
	exfil := sim.incident(t, kubeletsim.IncidentExfiltration)
	realData, err := os.ReadFile(sim.baseline)
	if err != nil {
		t.Fatal(err)
	}
	good := mustReadCSV(t, sim.baseline)
	// So wide a stdev that twenty times the traffic stays far within avg + 4 stdev.
	wide, _ := good.with(t, exfil.Key, "stdev_outbound:inbound", "1e9")
	path := filepath.Join(dir, "baseline.csv")
	writeFileAtomic(t, path, wide.bytes(t))

	c := writeCollectorConfig(t, bins, dir, collectorSetup{wiring: processorWiring, sim: sim, hec: true,
		component: map[string]any{"baseline": map[string]any{"path": path, "reload_interval": "1s"}}})
	c.start(t)
	events := newEventsFile(c.eventsPath)
	metrics := newMetricsFile(c.metricsPath)

	// 1. A whole window of exfiltration passes in data time without an event.
	firstFull := windowStart(sim.incidentStart(exfil).Add(testWindow - time.Nanosecond))
	closed := firstFull.Add(testWindow + testLateness + testSpan)
	metrics.waitDataTime(t, c, "data time past the first window wholly inside the incident", closed, 20*time.Second)
	tm := mustTelemetry(t, c)
	t.Logf("data time %v: %v spans scored, %v anomalous, %v events under the wide baseline",
		metrics.newest, tm.sum(telSpansScored), tm.sum(telSpansAnomalous), tm.sum(telEventsEmitted))
	if n := tm.sum(telEventsEmitted); n != 0 {
		t.Fatalf("%s = %v under the wide baseline, want 0", telEventsEmitted, n)
	}
	if n := tm.sum(telSpansScored); !(n > 0) {
		t.Fatalf("%s = %v, want > 0: nothing was scored, so no event proves nothing", telSpansScored, n)
	}
	keys, err := tm.gauge(telBaselineKeys)
	if err != nil || keys != float64(len(good.rows)) {
		t.Fatalf("%s = %v (%v), want %d", telBaselineKeys, keys, err, len(good.rows))
	}

	// 2. The real baseline arrives: events within a window or two.
	swapped := time.Now()
	writeFileAtomic(t, path, realData)
	eventually(t, 10*time.Second, "the reload logged", func() error {
		if strings.Contains(c.proc.stderr.String(), "Baseline reloaded") {
			return nil
		}
		return c.orDead(errors.New(`no "Baseline reloaded" in the collector's log`))
	})
	var last float64 // window start of the newest event
	newEvent := func(after float64) func() error {
		return func() error {
			evs, err := events.read()
			if err != nil {
				return err
			}
			for _, ev := range evs {
				if s, _ := ev.num("window_start"); s > after && ev.str("k8s.pod.name") == exfil.Pod {
					checkEvent(t, sim, good, exfil, ev)
					last = s
					return nil
				}
			}
			return c.orDead(fmt.Errorf("no event for %s with a window after %v yet (%d events)", exfil.Pod, time.Unix(int64(after), 0).UTC(), len(evs)))
		}
	}
	eventually(t, 2*testWindow+testLateness+20*time.Second, "an event after the real baseline was swapped in",
		newEvent(float64(windowStart(swapped).Unix())-1))

	// 3. A broken file: logged with file:line:col, counted, and the last good baseline stays.
	tm = mustTelemetry(t, c)
	failures := tm.sum(telReloadFailures)
	broken, line := good.with(t, exfil.Key, "avg_outbound:inbound", "fast")
	pos := fmt.Sprintf("%s:%d:%d", path, line, good.col("avg_outbound:inbound")+1)
	writeFileAtomic(t, path, broken.bytes(t))
	eventually(t, 10*time.Second, "the reload failure logged with its position", func() error {
		for _, l := range strings.Split(c.proc.stderr.String(), "\n") {
			if strings.Contains(l, "Baseline reload failed") && strings.Contains(l, pos) {
				return nil
			}
		}
		return c.orDead(fmt.Errorf(`no "Baseline reload failed" line naming %s in the collector's log`, pos))
	})
	eventually(t, 10*time.Second, "the reload failure counted", func() error {
		tm, err := c.telemetry()
		if err != nil {
			return c.orDead(err)
		}
		if n := tm.sum(telReloadFailures); n != failures+1 {
			return fmt.Errorf("%s = %v, want %v", telReloadFailures, n, failures+1)
		}
		return nil
	})
	eventually(t, 2*testWindow+testLateness+20*time.Second, "events going on with the last good baseline", newEvent(last))
	tm = mustTelemetry(t, c)
	if n := tm.sum(telReloadFailures); n != failures+1 {
		t.Errorf("%s = %v, want %v: an unchanged broken file is to be reported once", telReloadFailures, n, failures+1)
	}
	if got, err := tm.gauge(telBaselineKeys); err != nil || got != keys {
		t.Errorf("%s = %v (%v) after the failed reload, want %v", telBaselineKeys, got, err, keys)
	}
	if n := strings.Count(c.proc.stderr.String(), "Baseline reloaded"); n != 1 {
		t.Errorf(`"Baseline reloaded" logged %d times, want once (the broken file must not be swapped in)`, n)
	}
}

// windowStart is the start of the component's window holding t: windows are aligned in Unix time.
func windowStart(t time.Time) time.Time {
	w := int64(testWindow / time.Second)
	return time.Unix(t.Unix()/w*w, 0).UTC()
}

func mustTelemetry(t *testing.T, c *collector) telemetry {
	t.Helper()
	tm, err := c.telemetry()
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// learnedHeader is the section 7 column layout the learned file must start with.
const learnedHeader = "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,count,last_seen"

// learnedRow is what the learning test follows per key.
type learnedRow struct {
	count, lastSeen int64
	avgOutIn        float64
}

// readLearned checks the learned file's layout (header prefix, one row per scenario key) and returns its rows.
func readLearned(path string, keys []string) (map[string]learnedRow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	first, _, _ := strings.Cut(string(data), "\n")
	if first = strings.TrimSuffix(first, "\r"); first != learnedHeader && !strings.HasPrefix(first, learnedHeader+",") {
		return nil, fmt.Errorf("%s: header %q, want it to start with the columns %q", path, first, learnedHeader)
	}
	tab, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	rows := map[string]learnedRow{}
	for _, r := range tab.rows {
		if _, dup := rows[r[0]]; dup {
			return nil, fmt.Errorf("%s: key %s twice", path, r[0])
		}
		var lr learnedRow
		var errs [3]error
		lr.count, errs[0] = strconv.ParseInt(r[tab.col("count")], 10, 64)
		lr.lastSeen, errs[1] = strconv.ParseInt(r[tab.col("last_seen")], 10, 64)
		lr.avgOutIn, errs[2] = strconv.ParseFloat(r[tab.col("avg_outbound:inbound")], 64)
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("%s: row %v: %w", path, r, err)
		}
		rows[r[0]] = lr
	}
	got := make([]string, 0, len(rows))
	for k := range rows {
		got = append(got, k)
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(keys, " ") {
		return nil, fmt.Errorf("%s: keys %v, want one row per scenario key %v", path, got, keys)
	}
	return rows, nil
}

// TestLearning learns the baseline in the built collector, keeps its state in file_storage and
// continues from it after a restart.
func TestLearning(t *testing.T) {
	bins := requireBinaries(t)
	t.Parallel()
	dir := t.TempDir()
	sim := startSimulator(t, bins, dir, testSpan)
	storage := filepath.Join(dir, "storage")
	if err := os.Mkdir(storage, 0o755); err != nil {
		t.Fatal(err)
	}
	learned := filepath.Join(dir, "learned.csv")
	c := writeCollectorConfig(t, bins, dir, collectorSetup{wiring: connectorWiring, sim: sim, storageDir: storage,
		component: map[string]any{"learn": map[string]any{
			"enabled": true, "path": learned, "write_interval": "2s", "min_count": 1, "storage": "file_storage",
		}}})
	c.start(t)
	keys := sim.keys()

	// Enough spans per key that a learner starting afresh after the restart would show lower counts.
	const minSpans = 6
	eventually(t, 60*time.Second, "a learned baseline", func() error {
		rows, err := readLearned(learned, keys)
		if err != nil {
			return c.orDead(err)
		}
		for k, r := range rows {
			if r.count < minSpans {
				return c.orDead(fmt.Errorf("%s: count %d, waiting for %d", k, r.count, minSpans))
			}
		}
		return nil
	})
	c.stop(t)
	before, err := readLearned(learned, keys) // written at shutdown
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("learned before the restart: %v", before)
	// The learned means of the one-pod services match the simulator's own per-pod baseline loosely.
	simBase := mustReadCSV(t, sim.baseline)
	for _, p := range sim.scenario.Pods {
		if p.DetectionService != p.Name {
			continue // a deployment's or daemonset's key may cover pods with an incident
		}
		avg, stdev := simBase.number(t, p.Key, "avg_outbound:inbound"), simBase.number(t, p.Key, "stdev_outbound:inbound")
		if got := before[p.Key].avgOutIn; math.Abs(got-avg) > 3*stdev {
			t.Errorf("%s: learned avg_outbound:inbound %v, the simulator's is %v (stdev %v)", p.Key, got, avg, stdev)
		}
	}

	// Restart on the same storage: the first file the new process writes continues the counts.
	if err := os.Remove(learned); err != nil {
		t.Fatal(err)
	}
	c.start(t)
	var after map[string]learnedRow
	eventually(t, 30*time.Second, "the learned baseline after the restart", func() error {
		after, err = readLearned(learned, keys)
		return c.orDead(err)
	})
	t.Logf("first file after the restart: %v", after)
	for _, k := range keys {
		if after[k].count < before[k].count || after[k].lastSeen < before[k].lastSeen {
			t.Errorf("%s after the restart: count %d, last_seen %d; before: count %d, last_seen %d (state not restored)",
				k, after[k].count, after[k].lastSeen, before[k].count, before[k].lastSeen)
		}
	}
	eventually(t, 30*time.Second, "counts growing after the restart", func() error {
		rows, err := readLearned(learned, keys)
		if err != nil {
			return c.orDead(err)
		}
		for _, k := range keys {
			if rows[k].count <= before[k].count {
				return c.orDead(fmt.Errorf("%s: count %d, not above %d yet", k, rows[k].count, before[k].count))
			}
		}
		return nil
	})
	if !regexp.MustCompile(`State restored.*"learning_days": [1-9]`).MatchString(c.proc.stderr.String()) {
		t.Errorf(`the restarted collector did not log "State restored" with learning_days >= 1`)
	}
	if n := mustTelemetry(t, c).sum(telLearnWriteErrors); n != 0 {
		t.Errorf("%s = %v, want 0", telLearnWriteErrors, n)
	}
}

// keepEvents copies the events the HEC receiver got to $K8SNETIO_E2E_EVENTS_DIR (when set), so
// that `make test` can check the Splunk app's searches against them (examples, TestSplunkFieldsExist).
func keepEvents(t *testing.T, path string, w wiring) {
	dir := os.Getenv("K8SNETIO_E2E_EVENTS_DIR")
	if dir == "" {
		return
	}
	data, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "events-"+string(w)+".jsonl"), data, 0o644)
	}
	if err != nil {
		t.Errorf("keeping the received events for the Splunk app's check: %v", err)
	}
}
