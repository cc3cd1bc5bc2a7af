// Package evalreport scores a back-test of the detection against labelled incidents: which
// incidents an event caught, which events match no incident, how long detection took in data
// time. It prints the result as a table, as JSON, and as a self-contained HTML report.
package evalreport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is what an incident does to a pod's traffic.
type Kind string

const (
	// Exfiltration raises a pod's outbound (transmit) traffic.
	Exfiltration Kind = "exfiltration"
	// Download raises a pod's inbound (receive) traffic.
	Download Kind = "download"
)

// ParseKind accepts the two kinds by name.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.TrimSpace(s)); k {
	case Exfiltration, Download:
		return k, nil
	}
	return "", fmt.Errorf("kind %q: want %s or %s", s, Exfiltration, Download)
}

// Incident is one labelled attack on one pod over [Start, End).
type Incident struct {
	// Namespace is empty when the label names the pod only; it then matches the pod in any namespace.
	Namespace string    `json:"namespace,omitempty"`
	Pod       string    `json:"pod"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Kind      Kind      `json:"kind"`
	// Origin says where the label came from: FILE:LINE, or the --inject spec that added it.
	Origin string `json:"origin"`
}

// PodRef is the pod as the report names it: namespace/pod, or pod alone.
func (in *Incident) PodRef() string {
	if in.Namespace == "" {
		return in.Pod
	}
	return in.Namespace + "/" + in.Pod
}

// matchesPod says whether the incident is about the pod namespace/pod.
func (in *Incident) matchesPod(namespace, pod string) bool {
	return in.Pod == pod && (in.Namespace == "" || in.Namespace == namespace)
}

// overlaps says whether [from, to) and the incident share time.
func (in *Incident) overlaps(from, to time.Time) bool {
	return from.Before(in.End) && in.Start.Before(to)
}

// ParseIncidents reads labels from CSV (a header naming pod, start, end and kind, in any order)
// or JSON lines (objects with those fields); the first non-blank byte tells which. pod is
// "namespace/pod" or "pod"; start and end are RFC 3339 or Unix seconds. Errors name file:line.
func ParseIncidents(r io.Reader, file string) ([]Incident, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return parseJSONLines(data, file)
	}
	return parseCSV(data, file)
}

// rawIncident is one label before its fields are checked; start and end may be strings or numbers.
type rawIncident struct {
	Pod   string          `json:"pod"`
	Start json.RawMessage `json:"start"`
	End   json.RawMessage `json:"end"`
	Kind  string          `json:"kind"`
}

func parseJSONLines(data []byte, file string) ([]Incident, error) {
	var out []Incident
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var raw rawIncident
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields() // a misspelt field would otherwise read as a missing one
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, line, err)
		}
		in, err := makeIncident(raw.Pod, jsonTime(raw.Start), jsonTime(raw.End), raw.Kind)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, line, err)
		}
		in.Origin = fmt.Sprintf("%s:%d", file, line)
		out = append(out, in)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

// jsonTime turns a JSON string or number into the text ParseTime reads.
func jsonTime(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func parseCSV(data []byte, file string) ([]Incident, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, want := range []string{"pod", "start", "end", "kind"} {
		if _, ok := col[want]; !ok {
			return nil, fmt.Errorf("%s:1: the header has no %q column (want pod,start,end,kind)", file, want)
		}
	}
	var out []Incident
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		in, err := makeIncident(rec[col["pod"]], rec[col["start"]], rec[col["end"]], rec[col["kind"]])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, line, err)
		}
		in.Origin = fmt.Sprintf("%s:%d", file, line)
		out = append(out, in)
	}
}

func makeIncident(pod, start, end, kind string) (Incident, error) {
	var in Incident
	pod = strings.TrimSpace(pod)
	if ns, name, ok := strings.Cut(pod, "/"); ok {
		in.Namespace, in.Pod = ns, name
	} else {
		in.Pod = pod
	}
	if in.Pod == "" || (strings.Contains(pod, "/") && in.Namespace == "") {
		return in, fmt.Errorf("pod %q: want namespace/pod or pod", pod)
	}
	var err error
	if in.Start, err = ParseTime(start); err != nil {
		return in, fmt.Errorf("start: %v", err)
	}
	if in.End, err = ParseTime(end); err != nil {
		return in, fmt.Errorf("end: %v", err)
	}
	if !in.Start.Before(in.End) {
		return in, fmt.Errorf("end %s is not after start %s", in.End.Format(time.RFC3339), in.Start.Format(time.RFC3339))
	}
	in.Kind, err = ParseKind(kind)
	return in, err
}

// ParseTime reads RFC 3339 or Unix seconds (fractions allowed).
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return time.Time{}, fmt.Errorf("%q is not a time", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2023-01-29T14:00:00Z) or Unix seconds", s)
	}
	return t.UTC(), nil
}
