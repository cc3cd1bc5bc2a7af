package evalreport

import (
	"strings"
	"testing"
	"time"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func at(min, sec int) time.Time {
	return t0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
}

func ev(ns, pod string, windowStartMin int, emitted time.Time) Event {
	ws := at(windowStartMin, 0)
	return Event{Event: engine.Event{Namespace: ns, Pod: pod, WindowStart: ws, WindowEnd: ws.Add(time.Hour), Time: ws.Add(time.Hour)}, Emitted: emitted}
}

// handCase: three incidents, five events. Worked out by hand:
//   - A (shop/a, 10:05-10:15) is matched by a's 10:00 window event emitted 11:00:30: latency 55m30s.
//     a's 11:00 window event does not overlap A: false.
//   - B (pod b in any namespace, 12:00-12:10) is matched by two events of b's 12:00 window in
//     namespaces x and y; the first emitted (12:07:00) counts: latency 7m.
//   - C (shop/c) has no event: missed.
//   - d's event matches nothing: false.
//   - D (shop/e, 13:20-13:30) is matched by an event emitted at 13:10, before it began
//     (immediate mode, e already anomalous in that window): latency 0.
//
// Recall 3/4; false events 2 over 10 pod-hours = 0.2; latencies 0, 7m, 55m30s: median 7m, max 55m30s.
func handCase() ([]Incident, *Mode, Data) {
	incidents := []Incident{
		{Namespace: "shop", Pod: "a", Start: at(5, 0), End: at(15, 0), Kind: Exfiltration},
		{Pod: "b", Start: at(120, 0), End: at(130, 0), Kind: Download},
		{Namespace: "shop", Pod: "c", Start: at(30, 0), End: at(40, 0), Kind: Exfiltration},
		{Namespace: "shop", Pod: "e", Start: at(200, 0), End: at(210, 0), Kind: Exfiltration},
	}
	m := &Mode{Name: "hand", Config: engine.DefaultConfig(), Events: []Event{
		ev("shop", "a", 0, at(60, 30)),
		ev("shop", "a", 60, at(120, 30)),
		ev("y", "b", 120, at(127, 30)),
		ev("x", "b", 120, at(127, 0)),
		ev("shop", "d", 0, at(60, 30)),
		ev("shop", "e", 180, at(190, 0)),
	}}
	return incidents, m, Data{Pods: 5, PodHours: 10, From: t0, To: at(240, 0)}
}

func TestEvaluateHandCase(t *testing.T) {
	incidents, m, data := handCase()
	r := Evaluate(m, incidents, data)
	s := r.Summary
	if s.Incidents != 4 || s.Detected != 3 || *s.Recall != 0.75 {
		t.Errorf("detected %d of %d (recall %v), want 3 of 4 (0.75)", s.Detected, s.Incidents, *s.Recall)
	}
	if s.Events != 6 || s.FalseEvents != 2 || *s.FalsePerPodHour != 0.2 {
		t.Errorf("events %d, false %d (%v per pod-hour), want 6, 2 (0.2)", s.Events, s.FalseEvents, *s.FalsePerPodHour)
	}
	if *s.LatencyMedianSec != 7*60 || *s.LatencyMaxSec != 55*60+30 {
		t.Errorf("latency median %vs max %vs, want 420s and 3330s", *s.LatencyMedianSec, *s.LatencyMaxSec)
	}
	wantFirst := []int{0, 3, -1, 5}
	for j, c := range r.Caught {
		if c.First != wantFirst[j] {
			t.Errorf("incident %d: first event %d, want %d", j, c.First, wantFirst[j])
		}
	}
	if r.Caught[3].Latency != 0 {
		t.Errorf("an event out before the incident began has latency %s, want 0", r.Caught[3].Latency)
	}
	for i, want := range []int{1, 0, 1, 1, 0, 1} {
		if got := len(r.EventIncidents[i]); got != want {
			t.Errorf("event %d matches %d incidents, want %d", i, got, want)
		}
	}
}

func TestEvaluateWithoutIncidentsOrData(t *testing.T) {
	_, m, _ := handCase()
	s := Evaluate(m, nil, Data{}).Summary
	if s.Recall != nil || s.FalsePerPodHour != nil || s.LatencyMedianSec != nil {
		t.Errorf("undefined figures should be nil: %+v", s)
	}
	if s.FalseEvents != 6 {
		t.Errorf("false events %d, want every one of the 6", s.FalseEvents)
	}
}

func TestWriteTable(t *testing.T) {
	incidents, m, data := handCase()
	other := *m
	other.Name, other.Events = "recommended-mode", m.Events[:1]
	results := []Result{Evaluate(m, incidents, data), Evaluate(&other, incidents, data)}
	var b strings.Builder
	if err := WriteTable(&b, data, incidents, results); err != nil {
		t.Fatal(err)
	}
	want := `5 pods, 10.0 pod-hours, 4 incidents (0 injected)

                           hand  recommended-mode
incidents detected        3 / 4             1 / 4
recall                    75.0%             25.0%
events                        6                 1
false events                  2                 0
false events / pod-hour  0.2000            0.0000
latency median            7m00s            55m30s
latency max              55m30s            55m30s
`
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{50 * time.Second: "50s", 130 * time.Second: "2m10s", 65 * time.Minute: "1h05m", 0: "0s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestFloorTime(t *testing.T) {
	// 7 minutes does not divide a day: time.Truncate would align to year 1, not to the Unix epoch.
	got := FloorTime(time.Unix(1000, 0), 7*time.Minute)
	if got.Unix() != 840 {
		t.Errorf("FloorTime = %d, want 840", got.Unix())
	}
	if got := ClosedThrough(time.Unix(3595, 0), 10*time.Second, time.Hour); got.Unix() != 3600 {
		t.Errorf("ClosedThrough = %d, want 3600: the span holding the last point completes the hour", got.Unix())
	}
}
