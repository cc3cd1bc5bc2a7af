package evalreport

import (
	"slices"
	"sort"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

// Event is one event a mode emitted, with the data time at which it left the engine.
type Event struct {
	engine.Event
	// Emitted is the newest data time fed when the event left the engine (at the input's end,
	// the last span's end): when an operator would have had the alert. Event.Time, the window
	// end or the crossing span's start, can precede it.
	Emitted time.Time
}

// Span is one closed pod-span as the engine observed it: the pod's increases in bytes.
type Span struct {
	Start         time.Time
	In, Out       float64
	HasIn, HasOut bool
}

// SeriesID names one pod's spans: the baseline key (cluster:service) and namespace/pod.
type SeriesID struct{ Key, Pod string }

// Mode is one configuration's run over the recordings.
type Mode struct {
	Name   string
	Config engine.Config
	// Baseline is what the mode scored against; Origin says where it came from, for the report.
	Baseline       *baseline.Baseline
	BaselineOrigin string
	Events         []Event
	// Closed is the end of the last window the data closed: an incident ending later cannot
	// be reported in window mode.
	Closed time.Time
	// Series holds every pod's spans in time order, for the report's charts; it may be nil.
	Series map[SeriesID][]Span
}

// Data describes the recordings the modes ran over.
type Data struct {
	Pods int
	// PodHours is the sum over pods of the time between their first and last data point.
	PodHours float64
	From, To time.Time
}

// Result is one mode scored against the incidents.
type Result struct {
	Mode    *Mode
	Summary Summary
	// EventIncidents[i] lists the incidents (indexes) that Mode.Events[i] matches; none makes it false.
	EventIncidents [][]int
	// Caught[j] is the outcome for incident j.
	Caught []Catch
}

// Catch is what one mode made of one incident.
type Catch struct {
	Detected bool
	// First is the index in Mode.Events of the matching event emitted first.
	First int
	// Latency is First's emission minus the incident's start, in data time; an event already
	// out before the incident began (immediate mode, pod anomalous earlier in the window) counts 0.
	Latency time.Duration
}

// Summary is the comparison's row for one mode.
type Summary struct {
	Mode             string   `json:"mode"`
	Incidents        int      `json:"incidents"`
	Detected         int      `json:"detected"`
	Recall           *float64 `json:"recall"` // null without incidents
	Events           int      `json:"events"`
	FalseEvents      int      `json:"false_events"`
	PodHours         float64  `json:"pod_hours"`
	FalsePerPodHour  *float64 `json:"false_events_per_pod_hour"` // null without pod-hours
	LatencyMedianSec *float64 `json:"latency_median_seconds"`    // null when nothing was detected
	LatencyMaxSec    *float64 `json:"latency_max_seconds"`
}

// Evaluate matches m's events to the incidents. An event matches an incident on the same pod
// when the event's window overlaps the incident; an event matching none is false.
func Evaluate(m *Mode, incidents []Incident, data Data) Result {
	r := Result{Mode: m, EventIncidents: make([][]int, len(m.Events)), Caught: make([]Catch, len(incidents))}
	for j := range incidents {
		r.Caught[j].First = -1
	}
	for i := range m.Events {
		ev := &m.Events[i]
		for j := range incidents {
			in := &incidents[j]
			if !in.matchesPod(ev.Namespace, ev.Pod) || !in.overlaps(ev.WindowStart, ev.WindowEnd) {
				continue
			}
			r.EventIncidents[i] = append(r.EventIncidents[i], j)
			c := &r.Caught[j]
			if !c.Detected || ev.Emitted.Before(m.Events[c.First].Emitted) {
				c.Detected, c.First = true, i
				c.Latency = max(ev.Emitted.Sub(in.Start), 0)
			}
		}
	}

	s := Summary{Mode: m.Name, Incidents: len(incidents), Events: len(m.Events), PodHours: data.PodHours}
	var lat []time.Duration
	for _, c := range r.Caught {
		if c.Detected {
			s.Detected++
			lat = append(lat, c.Latency)
		}
	}
	for _, js := range r.EventIncidents {
		if len(js) == 0 {
			s.FalseEvents++
		}
	}
	if s.Incidents > 0 {
		s.Recall = ptr(float64(s.Detected) / float64(s.Incidents))
	}
	if data.PodHours > 0 {
		s.FalsePerPodHour = ptr(float64(s.FalseEvents) / data.PodHours)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		s.LatencyMedianSec = ptr(median(lat).Seconds())
		s.LatencyMaxSec = ptr(lat[len(lat)-1].Seconds())
	}
	r.Summary = s
	return r
}

// median of sorted values; the mean of the middle two for an even count.
func median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// FloorTime rounds t down to a multiple of d in Unix time, as the engine aligns spans and
// windows (time.Truncate counts from year 1, which differs for lengths that do not divide a day).
func FloorTime(t time.Time, d time.Duration) time.Time {
	ns, n := t.UnixNano(), int64(d)
	f := ns - ns%n
	if ns%n < 0 {
		f -= n
	}
	return time.Unix(0, f).UTC()
}

// ClosedThrough is where a replay of data ending at last closes windows: the end of the span
// holding the last point, rounded down to a window boundary.
func ClosedThrough(last time.Time, span, window time.Duration) time.Time {
	return FloorTime(FloorTime(last, span).Add(span), window)
}

func ptr[T any](v T) *T { return &v }

// SortEvents puts events in emission order, then by pod, so every output lists them alike.
func SortEvents(evs []Event) {
	sort.SliceStable(evs, func(a, b int) bool {
		x, y := &evs[a], &evs[b]
		if !x.Emitted.Equal(y.Emitted) {
			return x.Emitted.Before(y.Emitted)
		}
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		return x.Pod < y.Pod
	})
}
