package evalreport

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/engine"
	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// MaxSections bounds the sections per mode, so a noisy mode still gives a report a browser opens.
const MaxSections = 400

// section is one event or missed incident with its charts.
type section struct {
	Anchor  string
	Class   string // "miss", "false" or "hit"
	Heading string
	Facts   []string
	Charts  []template.HTML
	Notes   []string
}

type htmlMode struct {
	Name, Baseline string
	Sections       []section
	Omitted        int
}

type htmlPage struct {
	Header string
	Rows   [][]string
	Modes  []htmlMode
}

// WriteHTML writes a self-contained report: the comparison table, then per mode one section
// for each missed incident, false event and detected incident, with the pod's rates and each
// scored signal against its threshold as inline SVG. It needs no script and no network.
func WriteHTML(w io.Writer, data Data, incidents []Incident, results []Result) error {
	page := htmlPage{
		Header: fmt.Sprintf("%s, %s pod-hours (%s to %s), %s (%d injected)", plural(data.Pods, "pod"),
			strconvFloat(data.PodHours, 1), data.From.UTC().Format(time.RFC3339), data.To.UTC().Format(time.RFC3339),
			plural(len(incidents), "incident"), injected(incidents)),
		Rows: tableRows(results),
	}
	for mi := range results {
		r := &results[mi]
		hm := htmlMode{Name: r.Mode.Name, Baseline: r.Mode.BaselineOrigin}
		add := func(s section) {
			if len(hm.Sections) >= MaxSections {
				hm.Omitted++
				return
			}
			s.Anchor = fmt.Sprintf("m%d-%d", mi, len(hm.Sections))
			hm.Sections = append(hm.Sections, s)
		}
		for j := range incidents {
			if !r.Caught[j].Detected {
				add(r.missSection(incidents, j))
			}
		}
		for i := range r.Mode.Events {
			if len(r.EventIncidents[i]) == 0 {
				add(r.eventSection(incidents, i))
			}
		}
		for i := range r.Mode.Events {
			if len(r.EventIncidents[i]) > 0 {
				add(r.eventSection(incidents, i))
			}
		}
		page.Modes = append(page.Modes, hm)
	}
	return pageTemplate.Execute(w, page)
}

func (r *Result) eventSection(incidents []Incident, i int) section {
	ev := &r.Mode.Events[i]
	s := section{Class: "false", Heading: fmt.Sprintf("False event: %s/%s", ev.Namespace, ev.Pod)}
	if js := r.EventIncidents[i]; len(js) > 0 {
		in := &incidents[js[0]]
		s.Class, s.Heading = "hit", fmt.Sprintf("Detected %s: %s/%s", in.Kind, ev.Namespace, ev.Pod)
		for _, j := range js {
			if c := r.Caught[j]; c.First == i {
				s.Facts = append(s.Facts, fmt.Sprintf("first event for %s (%s), latency %s",
					incidents[j].Kind, incidents[j].Origin, FormatDuration(c.Latency)))
			}
		}
	}
	s.Facts = append([]string{
		fmt.Sprintf("window %s, %d anomalous spans, record time %s, emitted at %s (data time)",
			clockRange(ev.WindowStart, ev.WindowEnd), ev.Count, ev.Time.UTC().Format("15:04:05"), ev.Emitted.UTC().Format("15:04:05")),
		"service " + ev.Service + ", node " + ev.Node + ", cluster " + ev.Cluster + maxZ(ev),
	}, s.Facts...)
	id := SeriesID{Key: ev.Cluster + ":" + ev.Service, Pod: ev.Namespace + "/" + ev.Pod}
	s.Charts, s.Notes = r.charts(id, ev.WindowStart, ev.WindowEnd, podShades(incidents, ev.Namespace, ev.Pod))
	return s
}

func (r *Result) missSection(incidents []Incident, j int) section {
	in := &incidents[j]
	s := section{Class: "miss", Heading: fmt.Sprintf("Missed %s: %s", in.Kind, in.PodRef())}
	s.Facts = []string{fmt.Sprintf("incident %s (%s)", clockRange(in.Start, in.End), in.Origin)}
	if r.Mode.Config.Mode == engine.ModeWindow && !r.Mode.Closed.IsZero() && in.End.After(r.Mode.Closed) {
		s.Notes = append(s.Notes, fmt.Sprintf("a window holding this incident was still open when the data ended (windows close through %s): window mode cannot report it",
			r.Mode.Closed.UTC().Format("15:04:05")))
	}
	win := r.Mode.Config.Window
	from, to := FloorTime(in.Start, win), FloorTime(in.End.Add(-time.Nanosecond), win).Add(win)
	var ids []SeriesID
	for id := range r.Mode.Series {
		ns, pod, _ := strings.Cut(id.Pod, "/")
		if in.matchesPod(ns, pod) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		s.Notes = append(s.Notes, "no span of this pod was observed: no data for it in the recordings, or excluded")
		return s
	}
	slices.SortFunc(ids, func(a, b SeriesID) int { return strings.Compare(a.Key+" "+a.Pod, b.Key+" "+b.Pod) })
	ns, pod, _ := strings.Cut(ids[0].Pod, "/")
	var notes []string
	s.Charts, notes = r.charts(ids[0], from, to, podShades(incidents, ns, pod))
	s.Notes = append(s.Notes, notes...)
	return s
}

// charts draws one pod over [from, to): its rates, then each of the baseline's signals.
func (r *Result) charts(id SeriesID, from, to time.Time, shades [][2]time.Time) ([]template.HTML, []string) {
	all := r.Mode.Series[id]
	span := r.Mode.Config.Span
	var in, out []point
	type scored struct {
		t       time.Time
		in, out float64
	}
	var both []scored
	for i, sp := range all {
		if sp.Start.Before(from) || !sp.Start.Before(to) {
			continue
		}
		// A span's increase covers the time since the pod's previous span with data (a scrape
		// interval), so that is the divisor that gives bytes per second.
		secs := span.Seconds()
		if i > 0 {
			secs = max(sp.Start.Sub(all[i-1].Start).Seconds(), secs)
		}
		if sp.HasIn {
			in = append(in, point{sp.Start, sp.In / secs})
		}
		if sp.HasOut {
			out = append(out, point{sp.Start, sp.Out / secs})
		}
		if sp.HasIn && sp.HasOut {
			both = append(both, scored{sp.Start, sp.In, sp.Out})
		}
	}
	rates := chart{title: "rates, bytes/s", from: from, to: to, shades: shades,
		lines:      []line{{name: "inbound", color: colorIn, pts: in}, {name: "outbound", color: colorOut, pts: out}},
		emptyLabel: "no traffic observed in this interval"}
	charts := []template.HTML{template.HTML(rates.svg())}

	var notes []string
	b := r.Mode.Baseline
	if r.Mode.Config.Profile == engine.ProfileRecommended {
		return r.recommendedCharts(id, from, to, shades, charts, in, out)
	}
	stats, ok := b.Lookup(id.Key)
	if !ok {
		return charts, []string{fmt.Sprintf("the baseline has no row for key %s: this pod's spans are not scored", id.Key)}
	}
	var absent []string
	for s := baseline.Signal(0); s < baseline.NumSignals; s++ {
		if !slices.Contains(b.Signals(), s) {
			absent = append(absent, s.String())
		}
	}
	k := r.Mode.Config.StdevMultiplier
	for _, sig := range b.Signals() {
		st := stats[sig]
		if !st.Scorable {
			notes = append(notes, fmt.Sprintf("the baseline lacks %s for key %s (empty cell, or stdev 0): not scored", sig, id.Key))
			continue
		}
		thr := st.Avg + k*st.Stdev
		c := chart{title: sig.String() + " per span", from: from, to: to, shades: shades, threshold: thr,
			thrLabel:   fmt.Sprintf("avg + %g sd = %s", k, formatValue(thr)),
			emptyLabel: "no span with this signal defined in this interval"}
		var pts []point
		for _, sp := range both {
			v, ok := signalValue(sig, sp.in, sp.out)
			if !ok {
				continue
			}
			pts = append(pts, point{sp.t, v})
			if v > thr {
				c.marks = append(c.marks, point{sp.t, v})
			}
		}
		color := colorOut
		if sig == baseline.InboundOutbound || sig == baseline.InboundIO {
			color = colorIn
		}
		c.lines = []line{{name: sig.String(), color: color, pts: pts}}
		charts = append(charts, template.HTML(c.svg()))
	}
	if len(absent) > 0 {
		notes = append(notes, "not in the baseline file, so never scored: "+strings.Join(absent, ", "))
	}
	return charts, notes
}

// signalValue is the engine's definition of each signal; a ratio with a zero denominator is undefined.
func signalValue(s baseline.Signal, in, out float64) (float64, bool) {
	switch s {
	case baseline.InboundOutbound:
		return in / out, out > 0
	case baseline.OutboundInbound:
		return out / in, in > 0
	case baseline.InboundIO:
		return in, true
	case baseline.OutboundIO:
		return out, true
	}
	return 0, false
}

// podShades are the pod's incidents, shaded on each of its charts.
func podShades(incidents []Incident, namespace, pod string) [][2]time.Time {
	var out [][2]time.Time
	for _, in := range incidents {
		if in.matchesPod(namespace, pod) {
			out = append(out, [2]time.Time{in.Start, in.End})
		}
	}
	return out
}

func maxZ(ev *Event) string {
	var parts []string
	for s := baseline.Signal(0); s < baseline.NumSignals; s++ {
		if z, ok := ev.MaxZ[s]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2f", s, z))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; highest z: " + strings.Join(parts, ", ")
}

func clockRange(from, to time.Time) string {
	return from.UTC().Format("2006-01-02 15:04:05") + " to " + to.UTC().Format("15:04:05") + " UTC"
}

var pageTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>k8snetio eval</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; color: #222; margin: 24px auto; max-width: 1160px; padding: 0 16px; }
h1 { font-size: 20px; } h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #ddd; } h3 { font-size: 15px; margin: 0 0 4px; }
table.summary { border-collapse: collapse; } table.summary td, table.summary th { padding: 3px 12px; border-bottom: 1px solid #eee; text-align: right; }
table.summary td:first-child { text-align: left; color: #555; }
section { margin: 18px 0; padding: 10px 12px; border-left: 4px solid #ccc; background: #fafafa; }
section.miss { border-color: #d11a2a; } section.false { border-color: #e07b00; } section.hit { border-color: #2a9d3a; }
.facts { color: #444; margin: 0 0 6px; } .note { color: #8a5300; margin: 2px 0; }
.charts { display: flex; flex-wrap: wrap; gap: 8px; }
svg.chart { background: #fff; border: 1px solid #e4e4e4; }
svg .title { font-size: 12px; fill: #333; } svg .legend { font-size: 11px; text-anchor: end; }
svg .plot { fill: none; stroke: #ccc; } svg .grid { stroke: #eee; } svg .tick { stroke: #999; }
svg .xtick { font-size: 10px; fill: #666; text-anchor: middle; } svg .ytick { font-size: 10px; fill: #666; text-anchor: end; }
svg .threshold { stroke-dasharray: 5 3; } svg .thrlabel { font-size: 10px; fill: #555; text-anchor: end; }
svg .incident { fill: #d11a2a; fill-opacity: 0.12; } svg .empty { font-size: 12px; fill: #999; }
.key span { display: inline-block; margin-right: 14px; }
</style>
</head>
<body>
<h1>k8snetio eval</h1>
<p>{{.Header}}</p>
<table class="summary">
{{range $i, $row := .Rows}}<tr>{{range $row}}{{if eq $i 0}}<th>{{.}}</th>{{else}}<td>{{.}}</td>{{end}}{{end}}</tr>
{{end}}</table>
<p class="key"><span style="color:#1f6fb4">inbound</span><span style="color:#e07b00">outbound</span><span>dashed: avg + k&middot;stdev from the baseline</span><span style="color:#d11a2a">&#9679; span above it</span><span>shaded: labelled incident</span></p>
{{range .Modes}}
<h2>{{.Name}}</h2>
<p class="facts">baseline: {{.Baseline}}; {{len .Sections}} sections: missed incidents, then false events, then detected incidents.{{if .Omitted}} {{.Omitted}} more not shown.{{end}}</p>
{{range .Sections}}<section class="{{.Class}}" id="{{.Anchor}}">
<h3>{{.Heading}}</h3>
{{range .Facts}}<p class="facts">{{.}}</p>
{{end}}{{range .Notes}}<p class="note">{{.}}</p>
{{end}}<div class="charts">{{range .Charts}}{{.}}{{end}}</div>
</section>
{{end}}{{end}}
</body>
</html>
`))

// recommendedCharts draws what the recommended profile scores: each ratio against the rise it
// needs over the key's usual ratio, and each direction's rate against its gate (the learned
// one: the pod's recent level can only raise it).
func (r *Result) recommendedCharts(id SeriesID, from, to time.Time, shades [][2]time.Time, charts []template.HTML, in, out []point) ([]template.HTML, []string) {
	u, ok := r.Mode.Baseline.Usual(id.Key)
	if !ok {
		return charts, []string{fmt.Sprintf("the baseline has no recommended-profile figures for key %s: this pod's spans are not scored", id.Key)}
	}
	c := r.Mode.Config.Recommended
	p := profile.Recommended()
	p.Gate, p.HighGate, p.K = c.Gate, c.HighGate, c.Sigmas
	shift := max(p.K*max(1.4826*u.LogRatioMAD, p.MinSigma), p.MinShift)
	if p.MaxShift > 0 {
		shift = min(shift, p.MaxShift)
	}
	gate := func(usual, high float64) float64 {
		g := p.Gate * max(usual, p.MinRate)
		if p.HighGate > 0 && high > 0 && !math.IsInf(high, 0) {
			g = max(g, p.HighGate*high)
		}
		return g
	}
	rateAt := func(pts []point) map[time.Time]float64 {
		m := make(map[time.Time]float64, len(pts))
		for _, pt := range pts {
			m[pt.t] = pt.v
		}
		return m
	}
	inAt, outAt := rateAt(in), rateAt(out)
	for _, d := range []struct {
		ratio, rate string
		color       string
		thr, gate   float64
		num, den    map[time.Time]float64
		numPts      []point
	}{
		{"outbound:inbound", "outbound", colorOut, math.Exp(u.LogRatio + shift), gate(u.Out, u.OutHigh), outAt, inAt, out},
		{"inbound:outbound", "inbound", colorIn, math.Exp(-u.LogRatio + shift), gate(u.In, u.InHigh), inAt, outAt, in},
	} {
		rc := chart{title: d.ratio + " per span", from: from, to: to, shades: shades, threshold: d.thr,
			thrLabel:   fmt.Sprintf("usual x %.3g = %s", math.Exp(shift), formatValue(d.thr)),
			emptyLabel: "no span with both directions in this interval"}
		gc := chart{title: d.rate + " rate against its gate, bytes/s", from: from, to: to, shades: shades, threshold: d.gate,
			thrLabel: "gate " + formatValue(d.gate), emptyLabel: "no traffic observed in this interval"}
		var pts []point
		for _, pt := range d.numPts {
			den, ok := d.den[pt.t]
			if !ok || den <= 0 || pt.v <= 0 {
				continue
			}
			v := pt.v / den
			pts = append(pts, point{pt.t, v})
			if v > d.thr && pt.v >= d.gate {
				rc.marks = append(rc.marks, point{pt.t, v})
				gc.marks = append(gc.marks, pt)
			}
		}
		rc.lines = []line{{name: d.ratio, color: d.color, pts: pts}}
		gc.lines = []line{{name: d.rate, color: d.color, pts: d.numPts}}
		charts = append(charts, template.HTML(rc.svg()), template.HTML(gc.svg()))
	}
	return charts, []string{"recommended profile: red dots are spans above both the ratio's threshold and the gate " +
		"(an event needs more than " + c.MinAnomalous.String() + " of them within " + c.AnomalousWithin.String() + ")"}
}
