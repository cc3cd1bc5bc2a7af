package kubeletsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// Incident kinds.
const (
	IncidentExfiltration = "exfiltration" // the pod sends Factor times more
	IncidentDownload     = "download"     // the pod receives Factor times more
	IncidentRestart      = "restart"      // the pod's counters reset to 0
)

// Incident is one scripted event, as written in the incidents file.
type Incident struct {
	Kind    string  `json:"kind"`
	Service string  `json:"service"`
	Replica int     `json:"replica"`          // replica index; for a daemonset, the node's index
	Start   float64 `json:"start"`            // seconds after simulator start
	End     float64 `json:"end,omitempty"`    // seconds after simulator start; 0 = never ends; not for restart
	Factor  float64 `json:"factor,omitempty"` // multiplier, > 0; not for restart
}

// IncidentsFile is the incidents file's shape. A bare JSON array of incidents is accepted too.
type IncidentsFile struct {
	Incidents []Incident `json:"incidents"`
}

// LoadIncidents reads an incidents file; they are checked against a cluster by New.
func LoadIncidents(path string) ([]Incident, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	var list []Incident
	var dec *json.Decoder
	if len(data) > 0 && data[0] == '[' {
		dec = json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(&list)
	} else {
		var f IncidentsFile
		dec = json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(&f)
		list = f.Incidents
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return list, nil
}

func (in *Incident) validate() error {
	if !(in.Start >= 0) || math.IsInf(in.Start, 0) {
		return fmt.Errorf("start %v: want seconds >= 0", in.Start)
	}
	if in.End != 0 && !(in.End > in.Start && !math.IsInf(in.End, 0)) {
		return fmt.Errorf("end %v: want 0 (no end) or a time after start %v", in.End, in.Start)
	}
	switch in.Kind {
	case IncidentExfiltration, IncidentDownload:
		if !(in.Factor > 0) || math.IsInf(in.Factor, 0) {
			return fmt.Errorf("factor %v: want a number > 0", in.Factor)
		}
	case IncidentRestart:
		if in.End != 0 || in.Factor != 0 {
			return fmt.Errorf("a restart is instantaneous and has no end or factor")
		}
	default:
		return fmt.Errorf("kind %q: want exfiltration, download or restart", in.Kind)
	}
	return nil
}

// startStep is the first simulated second the incident affects.
func (in *Incident) startStep() int64 { return int64(math.Ceil(in.Start)) }

// endStep is the first simulated second no longer affected, or -1 when the incident does not end.
func (in *Incident) endStep() int64 {
	if in.End == 0 {
		return -1
	}
	return int64(math.Ceil(in.End))
}

// podEffects are the incidents of one pod, in step form.
type podEffects struct {
	restarts []int64 // steps at whose start the counters reset, ascending
	factors  []stepFactor
}

type stepFactor struct {
	from, to int64 // [from, to); to < 0 = open-ended
	rx, tx   float64
}

// restartAt reports whether the counters reset at the start of step k.
func (e *podEffects) restartAt(k int64) bool {
	if e == nil {
		return false
	}
	for _, r := range e.restarts {
		if r == k {
			return true
		}
	}
	return false
}

// multipliers gives the rx and tx factors in effect during step k.
func (e *podEffects) multipliers(k int64) (rx, tx float64) {
	rx, tx = 1, 1
	if e == nil {
		return rx, tx
	}
	for _, f := range e.factors {
		if k >= f.from && (f.to < 0 || k < f.to) {
			rx *= f.rx
			tx *= f.tx
		}
	}
	return rx, tx
}

// lastRestart is the latest restart step at or before k, if any, and how many there were.
func (e *podEffects) lastRestart(k int64) (step int64, count int) {
	if e == nil {
		return 0, 0
	}
	for _, r := range e.restarts {
		if r <= k {
			step, count = r, count+1
		}
	}
	return step, count
}
