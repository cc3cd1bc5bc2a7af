package evalreport

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

// WriteTable prints the modes side by side, one row per figure, columns aligned.
func WriteTable(w io.Writer, data Data, incidents []Incident, results []Result) error {
	rows := tableRows(results)
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s pod-hours, %s (%d injected)\n\n", plural(data.Pods, "pod"),
		strconvFloat(data.PodHours, 1), plural(len(incidents), "incident"), injected(incidents))
	for _, row := range rows {
		for i, c := range row {
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", widths[i], c)
			} else {
				fmt.Fprintf(&b, "  %*s", widths[i], c)
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// tableRows is the comparison: a header row of mode names, then one row per figure.
func tableRows(results []Result) [][]string {
	rows := [][]string{{""}}
	for _, r := range results {
		rows[0] = append(rows[0], r.Summary.Mode)
	}
	add := func(label string, cell func(s Summary) string) {
		row := []string{label}
		for _, r := range results {
			row = append(row, cell(r.Summary))
		}
		rows = append(rows, row)
	}
	add("incidents detected", func(s Summary) string { return fmt.Sprintf("%d / %d", s.Detected, s.Incidents) })
	add("recall", func(s Summary) string { return percent(s.Recall) })
	add("events", func(s Summary) string { return fmt.Sprint(s.Events) })
	add("false events", func(s Summary) string { return fmt.Sprint(s.FalseEvents) })
	add("false events / pod-hour", func(s Summary) string { return number(s.FalsePerPodHour, 4) })
	add("latency median", func(s Summary) string { return seconds(s.LatencyMedianSec) })
	add("latency max", func(s Summary) string { return seconds(s.LatencyMaxSec) })
	return rows
}

func injected(incidents []Incident) int {
	n := 0
	for _, in := range incidents {
		if strings.HasPrefix(in.Origin, "inject ") {
			n++
		}
	}
	return n
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func percent(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconvFloat(100**v, 1) + "%"
}

func number(v *float64, digits int) string {
	if v == nil {
		return "-"
	}
	return strconvFloat(*v, digits)
}

func strconvFloat(v float64, digits int) string { return fmt.Sprintf("%.*f", digits, v) }

func seconds(v *float64) string {
	if v == nil {
		return "-"
	}
	return FormatDuration(time.Duration(math.Round(*v)) * time.Second)
}

// FormatDuration prints whole seconds the way people read latencies: 50s, 2m10s, 1h05m.
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

// jsonReport is the --json document.
type jsonReport struct {
	Data      jsonData   `json:"data"`
	Incidents []Incident `json:"incidents"`
	Modes     []jsonMode `json:"modes"`
	Summary   []Summary  `json:"summary"`
}

type jsonData struct {
	Pods     int       `json:"pods"`
	PodHours float64   `json:"pod_hours"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
}

type jsonMode struct {
	Name     string      `json:"name"`
	Baseline string      `json:"baseline"`
	Events   []jsonEvent `json:"events"`
	// Incidents[j] is the outcome for incident j, in the order of the top-level incidents.
	Incidents []jsonCatch `json:"incidents"`
}

type jsonEvent struct {
	Cluster     string             `json:"k8s.cluster.name"`
	Node        string             `json:"host"`
	Namespace   string             `json:"k8s.namespace.name"`
	Pod         string             `json:"k8s.pod.name"`
	Service     string             `json:"k8s.service"`
	Count       int                `json:"count"`
	WindowStart time.Time          `json:"window_start"`
	WindowEnd   time.Time          `json:"window_end"`
	Time        time.Time          `json:"time"`
	Emitted     time.Time          `json:"emitted"`
	MaxZ        map[string]float64 `json:"max_zscore"`
	Incidents   []int              `json:"incidents"` // empty: a false event
}

type jsonCatch struct {
	Detected   bool     `json:"detected"`
	Event      *int     `json:"event"` // index in events of the first matching event
	LatencySec *float64 `json:"latency_seconds"`
}

// WriteJSON writes the whole comparison as one JSON document.
func WriteJSON(w io.Writer, data Data, incidents []Incident, results []Result) error {
	rep := jsonReport{
		Data:      jsonData{Pods: data.Pods, PodHours: data.PodHours, From: data.From, To: data.To},
		Incidents: incidents,
		Modes:     []jsonMode{},
		Summary:   []Summary{},
	}
	if rep.Incidents == nil {
		rep.Incidents = []Incident{}
	}
	for _, r := range results {
		jm := jsonMode{Name: r.Mode.Name, Baseline: r.Mode.BaselineOrigin, Events: []jsonEvent{}, Incidents: []jsonCatch{}}
		for i, ev := range r.Mode.Events {
			je := jsonEvent{
				Cluster: ev.Cluster, Node: ev.Node, Namespace: ev.Namespace, Pod: ev.Pod, Service: ev.Service,
				Count: ev.Count, WindowStart: ev.WindowStart, WindowEnd: ev.WindowEnd, Time: ev.Time, Emitted: ev.Emitted,
				MaxZ: map[string]float64{}, Incidents: r.EventIncidents[i],
			}
			for s := baseline.Signal(0); s < baseline.NumSignals; s++ {
				if z, ok := ev.MaxZ[s]; ok {
					je.MaxZ[s.String()] = z
				}
			}
			if je.Incidents == nil {
				je.Incidents = []int{}
			}
			jm.Events = append(jm.Events, je)
		}
		for _, c := range r.Caught {
			jc := jsonCatch{Detected: c.Detected}
			if c.Detected {
				jc.Event, jc.LatencySec = ptr(c.First), ptr(c.Latency.Seconds())
			}
			jm.Incidents = append(jm.Incidents, jc)
		}
		rep.Modes = append(rep.Modes, jm)
		rep.Summary = append(rep.Summary, r.Summary)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}
