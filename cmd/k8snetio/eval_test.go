package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

var evalT0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

const (
	podA = "api-7c5ddbdf54-aaaaa"
	podB = "api-7c5ddbdf54-bbbbb"
	podW = "web-6f9d8c7b5d-ccccc" // service web: no row in evalBaseline, so never scored
)

// evalBaseline scores both ratios of service api: threshold 1 + 4*0.1 = 1.4.
const evalBaseline = "key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound\nc1:api,1,1,0.1,0.1\n"

// evalRecording is n scrapes 10 s apart, each 5 s into its span, of every pod's cumulative
// counters (namespace shop, cluster c1, node n1), growing by traffic(pod, k) at scrape k.
func evalRecording(t *testing.T, from time.Time, n int, pods []string, traffic func(pod string, k int) (rx, tx int64)) string {
	t.Helper()
	var b strings.Builder
	var m pmetric.JSONMarshaler
	rx, tx := map[string]int64{}, map[string]int64{}
	for k := 0; k < n; k++ {
		ts := from.Add(time.Duration(k)*10*time.Second + 5*time.Second)
		md := pmetric.NewMetrics()
		for _, pod := range pods {
			if k > 0 {
				r, x := traffic(pod, k)
				rx[pod] += r
				tx[pod] += x
			}
			rm := md.ResourceMetrics().AppendEmpty()
			a := rm.Resource().Attributes()
			a.PutStr("k8s.pod.name", pod)
			a.PutStr("k8s.namespace.name", "shop")
			a.PutStr("k8s.cluster.name", "c1")
			a.PutStr("k8s.node.name", "n1")
			sum := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			sum.SetName("k8s.pod.network.io")
			s := sum.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for _, d := range []struct {
				dir string
				v   int64
			}{{"receive", rx[pod]}, {"transmit", tx[pod]}} {
				dp := s.DataPoints().AppendEmpty()
				dp.SetStartTimestamp(pcommon.NewTimestampFromTime(from))
				dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
				dp.SetIntValue(d.v)
				dp.Attributes().PutStr("interface", "eth0")
				dp.Attributes().PutStr("direction", d.dir)
			}
		}
		line, err := m.MarshalMetrics(md)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func steadyTraffic(string, int) (int64, int64) { return 1000, 1000 }

// evalOutput is the part of --json the tests read.
type evalOutput struct {
	Data struct {
		Pods     int     `json:"pods"`
		PodHours float64 `json:"pod_hours"`
	} `json:"data"`
	Incidents []struct {
		Namespace, Pod, Kind, Origin string
		Start, End                   time.Time
	} `json:"incidents"`
	Modes []struct {
		Name   string `json:"name"`
		Events []struct {
			Pod       string    `json:"k8s.pod.name"`
			WindowEnd time.Time `json:"window_end"`
			Emitted   time.Time `json:"emitted"`
			Incidents []int     `json:"incidents"`
		} `json:"events"`
		Incidents []struct {
			Detected   bool     `json:"detected"`
			LatencySec *float64 `json:"latency_seconds"`
		} `json:"incidents"`
	} `json:"modes"`
	Summary []struct {
		Mode        string   `json:"mode"`
		Incidents   int      `json:"incidents"`
		Detected    int      `json:"detected"`
		Recall      *float64 `json:"recall"`
		FalseEvents int      `json:"false_events"`
		LatencyMax  *float64 `json:"latency_max_seconds"`
	} `json:"summary"`
}

func evalJSON(t *testing.T, r result) evalOutput {
	t.Helper()
	if r.code != exitOK {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	var out evalOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--json output: %v\n%s", err, r.stdout)
	}
	return out
}

// An x10, 2-minute exfiltration injected into each pod of steady traffic (in = out) gives 12
// spans of outbound:inbound = 10, far above 1.4: at least 6 of them fall in one 10-minute
// window, whatever the seed, so both modes catch every api pod. web has no baseline row, so
// its injected incident and the hand label on it are missed: 2 of 4. Steady traffic never
// flags otherwise: no false event.
func TestEvalInjectedExfiltrationIsDetected(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "baseline.csv", evalBaseline)
	window := writeFile(t, dir, "window.yaml", "span: 10s\nwindow: 10m\nbaseline: {path: baseline.csv}\n")
	immediate := writeFile(t, dir, "immediate.yaml", "span: 10s\nwindow: 10m\nmode: immediate\nbaseline: {path: baseline.csv}\n")
	rec := writeFile(t, dir, "rec.jsonl", evalRecording(t, evalT0, 360, []string{podA, podB, podW}, steadyTraffic))
	labels := writeFile(t, dir, "labels.csv", "pod,start,end,kind\n"+podW+",2025-03-01T10:30:00Z,2025-03-01T10:35:00Z,download\n")
	html := filepath.Join(dir, "report.html")

	out := evalJSON(t, runArgs(t, "", "eval", "--config", window, "--config", immediate, "--incidents", labels,
		"--inject", "kind=exfiltration,factor=10,minutes=2,pods=all,seed=3", "--json", "--html", html, rec))

	if out.Data.Pods != 3 || math.Abs(out.Data.PodHours-3*3590.0/3600) > 1e-9 {
		t.Errorf("data: %d pods, %v pod-hours; want 3 pods of 59m50s each", out.Data.Pods, out.Data.PodHours)
	}
	if len(out.Incidents) != 4 {
		t.Fatalf("%d incidents, want the label and 3 injected", len(out.Incidents))
	}
	for _, in := range out.Incidents[1:] {
		if in.Kind != "exfiltration" || in.End.Sub(in.Start) != 2*time.Minute || !strings.HasPrefix(in.Origin, "inject ") ||
			in.Start.Before(evalT0) || in.End.After(evalT0.Add(time.Hour)) {
			t.Errorf("injected incident %+v: want 2 minutes of exfiltration within the data", in)
		}
	}
	for i, s := range out.Summary {
		if s.Incidents != 4 || s.Detected != 2 || *s.Recall != 0.5 || s.FalseEvents != 0 {
			t.Errorf("%s: detected %d of %d, %d false events; want 2 of 4 and none", s.Mode, s.Detected, s.Incidents, s.FalseEvents)
		}
		m := out.Modes[i]
		for j, c := range m.Incidents {
			want := j == 1 || j == 2 // the api pods' injected incidents; the incidents are label first, then pods by name
			if c.Detected != want {
				t.Errorf("%s: incident %d (%s) detected %v, want %v", s.Mode, j, out.Incidents[j].Pod, c.Detected, want)
			}
		}
		for _, ev := range m.Events {
			if s.Mode == "window" && ev.Emitted.Before(ev.WindowEnd) {
				t.Errorf("window mode: event emitted at %s, before its window ends at %s", ev.Emitted, ev.WindowEnd)
			}
		}
	}
	// Immediate mode emits when the span that makes the count 6 closes: at most 12 spans in.
	if s := out.Summary[1]; s.Mode != "immediate" || s.LatencyMax == nil || *s.LatencyMax > 130 {
		t.Errorf("immediate mode: latency max %v s, want at most 130 s", s.LatencyMax)
	}
	page := readFile(t, html)
	if !strings.Contains(page, "Missed download: "+podW) || strings.Count(page, "<svg") < 4 {
		t.Errorf("the report lacks the missed label or its charts")
	}
}

// The table the same run prints without --json: modes side by side, one figure per row.
func TestEvalTable(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "baseline.csv", evalBaseline)
	cfg := writeFile(t, dir, "parity.yaml", "span: 10s\nwindow: 10m\nbaseline: {path: baseline.csv}\n")
	rec := writeFile(t, dir, "rec.jsonl", evalRecording(t, evalT0, 360, []string{podA}, steadyTraffic))
	r := runArgs(t, "", "eval", "--config", cfg, "--inject", "kind=download,minutes=3", rec)
	if r.code != exitOK {
		t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
	}
	var rows []string
	for _, l := range strings.Split(r.stdout, "\n") {
		rows = append(rows, strings.Join(strings.Fields(l), " "))
	}
	table := strings.Join(rows, "\n")
	for _, want := range []string{"1 pod, 1.0 pod-hours, 1 incident (1 injected)", "\nparity\n", "\nincidents detected 1 / 1\n", "\nrecall 100.0%\n", "\nfalse events 0\n"} {
		if !strings.Contains(table, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "k8snetio eval: parity: k8s.pod.network.io points: 720 used") {
		t.Errorf("stderr lacks the mode's summary:\n%s", r.stderr)
	}
}

// --train learns the baseline with the config's learn settings: traffic that varies a little
// (in/out between 0.8 and 1.3) gives a threshold well below an exfiltration's x10, and above
// the same traffic's own ratios, so detection on more of it finds the attack and nothing else.
func TestEvalTrain(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "learned.yaml", "span: 10s\nwindow: 10m\nlearn: {per_pod: true, min_count: 100}\n")
	varying := func(_ string, k int) (int64, int64) { return 1000 + int64(100*(k%4)), 1000 + int64(100*(k%3)) }
	train := writeFile(t, dir, "train.jsonl", evalRecording(t, evalT0, 360, []string{podA, podB}, varying))
	detect := writeFile(t, dir, "detect.jsonl", evalRecording(t, evalT0.Add(time.Hour), 360, []string{podA, podB}, varying))
	out := evalJSON(t, runArgs(t, "", "eval", "--config", cfg, "--train", train, "--inject", "kind=exfiltration,pods=1,minutes=3,seed=9", "--json", detect))
	s := out.Summary[0]
	if s.Incidents != 1 || s.Detected != 1 || s.FalseEvents != 0 {
		t.Errorf("detected %d of %d, %d false events; want 1 of 1 and none", s.Detected, s.Incidents, s.FalseEvents)
	}

	// Without enough spans for learn.min_count no key is learned, and the run says so.
	few := writeFile(t, dir, "few.yaml", "span: 10s\nlearn: {min_count: 1000}\n")
	wantFailure(t, runArgs(t, "", "eval", "--config", few, "--train", train, detect), exitFailure, "learn.min_count (1000)")
}

func TestEvalUsageErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "baseline.csv", evalBaseline)
	cfg := writeFile(t, dir, "c.yaml", "baseline: {path: baseline.csv}\n")
	rec := writeFile(t, dir, "rec.jsonl", evalRecording(t, evalT0, 3, []string{podA}, steadyTraffic))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{rec}, exitUsage, "--config FILE is required"},
		{[]string{"--config", cfg, "--baseline", "b.csv", "--train", rec, rec}, exitUsage, "--baseline and --train exclude each other"},
		{[]string{"--config", cfg, "--inject", "kind=ddos", rec}, exitUsage, `--inject kind=ddos: kind "ddos"`},
		{[]string{"--config", cfg, "--inject", "kind=download,minutes=0", rec}, exitUsage, "minutes must be at least 1"},
		{[]string{"--config", cfg, "--inject", "kind=download,pod=3", rec}, exitUsage, `unknown key "pod"`},
		{[]string{"--config", cfg, "--incidents", writeFile(t, dir, "l.csv", "pod,start,end,kind\nx,1,2,oops\n"), rec}, exitFailure, "l.csv:2: kind"},
		{[]string{"--config", cfg, writeFile(t, dir, "bad.jsonl", "{\n")}, exitFailure, "bad.jsonl:1"},
	} {
		r := runArgs(t, "", append([]string{"eval"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("eval %q: exit %d, stderr %q; want exit %d, stderr with %q, no stdout", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	if r := runArgs(t, "", "eval", "-h"); r.code != exitOK || !strings.Contains(r.stdout, "Usage: k8snetio eval") {
		t.Errorf("eval -h: exit %d, stdout %q", r.code, r.stdout)
	}
}

// amplify keeps a cumulative counter consistent: worked by hand for factor 3 over points 2-4,
// with a counter reset at point 3 (the reset's own point is left alone so it still reads as one).
func TestAmplifyCumulative(t *testing.T) {
	values := []int64{100, 200, 300, 50, 150, 250}
	want := []int64{100, 200, 500, 50, 350, 450} // increases 100, 300, reset to 50, 300, 100
	s := &injSeries{typ: cumulativePoint}
	for i, v := range values {
		dp := pmetric.NewNumberDataPoint()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(evalT0.Add(time.Duration(i) * time.Second)))
		dp.SetIntValue(v)
		s.pts = append(s.pts, dp)
	}
	s.amplify(evalT0.Add(2*time.Second), evalT0.Add(5*time.Second), 3)
	for i, dp := range s.pts {
		if dp.IntValue() != want[i] {
			t.Errorf("point %d = %d, want %d", i, dp.IntValue(), want[i])
		}
	}

	// A delta or gauge point is its span's value already: multiplied where it lies in the incident.
	g := &injSeries{typ: gaugePoint}
	for i := range 3 {
		dp := pmetric.NewNumberDataPoint()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(evalT0.Add(time.Duration(i) * time.Second)))
		dp.SetDoubleValue(1.5)
		g.pts = append(g.pts, dp)
	}
	g.amplify(evalT0.Add(time.Second), evalT0.Add(2*time.Second), 10)
	if got := []float64{g.pts[0].DoubleValue(), g.pts[1].DoubleValue(), g.pts[2].DoubleValue()}; got[0] != 1.5 || got[1] != 15 || got[2] != 1.5 {
		t.Errorf("gauge points %v, want [1.5 15 1.5]", got)
	}
}

func TestEvalHelpListed(t *testing.T) {
	r := runArgs(t, "", "help")
	for _, c := range []string{"eval", "import-rates"} {
		if !strings.Contains(r.stdout, "  "+c+" ") {
			t.Errorf("usage lacks %s:\n%s", c, r.stdout)
		}
	}
}
