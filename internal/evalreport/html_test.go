package evalreport

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

// reportCase is one mode with three pods over an hour of 10 s spans (in = out = 1000 bytes):
//   - shop/a exfiltrates x10 from 10:20 to 10:30 and has an event: a detected incident;
//   - shop/b has an event and no incident: a false event;
//   - shop/c has an incident and no event, and its key is not in the baseline: a miss whose
//     charts can only say that nothing is scored.
//
// The baseline scores both ratios for c1:a and c1:b (threshold 1 + 4*0.1 = 1.4) and has no
// volume columns.
func reportCase(t *testing.T) (Data, []Incident, []Result) {
	t.Helper()
	b, err := baseline.Parse(strings.NewReader(
		"key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound\n"+
			"c1:a,1,1,0.1,0.1\nc1:b,1,1,0.1,\n"), "b.csv")
	if err != nil {
		t.Fatal(err)
	}
	series := map[SeriesID][]Span{}
	for _, pod := range []string{"a", "b", "c"} {
		id := SeriesID{Key: "c1:" + pod, Pod: "shop/" + pod}
		for k := 0; k < 360; k++ {
			s := Span{Start: t0.Add(time.Duration(k) * 10 * time.Second), In: 1000, Out: 1000, HasIn: true, HasOut: true}
			if pod == "a" && k >= 120 && k < 180 {
				s.Out *= 10
			}
			series[id] = append(series[id], s)
		}
	}
	cfg := engine.DefaultConfig()
	incidents := []Incident{
		{Namespace: "shop", Pod: "a", Start: at(20, 0), End: at(30, 0), Kind: Exfiltration, Origin: "inject kind=exfiltration #1"},
		{Namespace: "shop", Pod: "c", Start: at(20, 0), End: at(30, 0), Kind: Download, Origin: "labels.csv:2"},
	}
	m := &Mode{Name: "parity", Config: cfg, Baseline: b, BaselineOrigin: "b.csv", Series: series, Closed: at(60, 0),
		Events: []Event{
			{Event: engine.Event{Cluster: "c1", Node: "n1", Namespace: "shop", Pod: "a", Service: "a", Count: 60,
				WindowStart: t0, WindowEnd: at(60, 0), Time: at(60, 0), MaxZ: map[baseline.Signal]float64{baseline.OutboundInbound: 90}}, Emitted: at(60, 30)},
			{Event: engine.Event{Cluster: "c1", Node: "n1", Namespace: "shop", Pod: "b", Service: "b", Count: 6,
				WindowStart: t0, WindowEnd: at(60, 0), Time: at(60, 0)}, Emitted: at(60, 30)},
		}}
	data := Data{Pods: 3, PodHours: 3, From: t0, To: at(59, 50)}
	return data, incidents, []Result{Evaluate(m, incidents, data)}
}

func TestWriteHTML(t *testing.T) {
	data, incidents, results := reportCase(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, data, incidents, results); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	// Sections in order: the miss, the false event, the detection.
	headings := regexp.MustCompile(`<h3>([^<]*)</h3>`).FindAllStringSubmatch(page, -1)
	var got []string
	for _, h := range headings {
		got = append(got, h[1])
	}
	want := []string{"Missed download: shop/c", "False event: shop/b", "Detected exfiltration: shop/a"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sections %q, want %q", got, want)
	}
	// Charts: c has rates only (no baseline row); b has rates and inbound:outbound (its
	// outbound:inbound stdev is empty); a has rates and both ratios.
	if n := strings.Count(page, "<svg"); n != 1+2+3 {
		t.Errorf("%d charts, want 6", n)
	}
	for _, s := range []string{
		"the baseline has no row for key c1:c",
		"the baseline lacks outbound:inbound for key c1:b",
		"not in the baseline file, so never scored: inbound_network_io, outbound_network_io",
		"avg + 4 sd = 1.4",
		"latency 40m30s",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	// a's 60 spans of outbound:inbound = 10 are above the threshold and marked; none of b's is.
	if n := strings.Count(page, "<circle"); n != 60 {
		t.Errorf("%d marked spans, want 60", n)
	}
	// Self-contained: no script, no fetched resource.
	for _, bad := range []string{"<script", "src=", "href=\"http", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("report contains %q", bad)
		}
	}
}

// TestWriteHTMLRecommended: in the recommended profile each pod gets its rates, then per
// direction the ratio against the rise it needs and the numerator's rate against its gate.
// c1:a's figures: usual rates 100 B/s, ratio 1 (ln 0), MAD 0.1, so the ratio must reach x3
// (the floor; K sigma = 3 x 0.148 = 0.44 in ln is less) and the numerator max(3 x 100, 2 x 150)
// = 300 B/s. a's exfiltration (outbound 1000 B/s against inbound 100, ratio 10) passes both, 60
// spans; c1:b has no figures, which the report says.
func TestWriteHTMLRecommended(t *testing.T) {
	data, incidents, results := reportCase(t)
	m := results[0].Mode
	b, err := baseline.Parse(strings.NewReader(
		"key,usual_inbound_bps,usual_outbound_bps,high_inbound_bps,high_outbound_bps,median_ln_outbound:inbound,mad_ln_outbound:inbound\n"+
			"c1:a,100,100,150,150,0,0.1\n"), "p.csv")
	if err != nil {
		t.Fatal(err)
	}
	m.Baseline = b
	m.Config.Profile = engine.ProfileRecommended
	var buf bytes.Buffer
	if err := WriteHTML(&buf, data, incidents, []Result{Evaluate(m, incidents, data)}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, s := range []string{
		"usual x 3 = 3", "gate 300", "the baseline has no recommended-profile figures for key c1:b",
		"outbound rate against its gate", "inbound:outbound per span",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	// a: rates + 4 charts; b and c: rates only.
	if n := strings.Count(page, "<svg"); n != 5+1+1 {
		t.Errorf("%d charts, want 7", n)
	}
	// a's 60 exfiltrating spans, marked on its ratio chart and on its gate chart.
	if n := strings.Count(page, "<circle"); n != 120 {
		t.Errorf("%d marked spans, want 120", n)
	}
}
