package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

const networkMetric = "k8s.pod.network.io"

// jsonLines reads what a file exporter (format: json) has written since the last call: one
// OTLP JSON export request per line. A line still being written is left for the next call.
type jsonLines struct {
	path string
	off  int64
}

func (j *jsonLines) next() ([][]byte, error) {
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // the exporter has written nothing yet
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(j.off, io.SeekStart); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		return nil, nil
	}
	j.off += int64(end + 1)
	var lines [][]byte
	for _, l := range bytes.Split(data[:end], []byte{'\n'}) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// event is one log record as the events file holds it: after the splunk_hec receiver, the HEC
// metadata are resource attributes and the HEC `event` is the body.
type event struct {
	resource map[string]any
	attrs    map[string]any
	body     map[string]any
	time     time.Time
}

func (e event) String() string {
	b, _ := json.Marshal(map[string]any{"resource": e.resource, "attributes": e.attrs, "body": e.body, "time": e.time})
	return string(b)
}

func (e event) str(key string) string {
	s, _ := e.body[key].(string)
	return s
}

// num reads a body number whichever JSON number type the HEC round trip gave it.
func (e event) num(key string) (float64, bool) {
	switch v := e.body[key].(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// eventsFile accumulates the events a file exporter has written.
type eventsFile struct {
	lines  jsonLines
	events []event
}

func newEventsFile(path string) *eventsFile { return &eventsFile{lines: jsonLines{path: path}} }

// read returns every event written so far.
func (ef *eventsFile) read() ([]event, error) {
	lines, err := ef.lines.next()
	if err != nil {
		return nil, err
	}
	var u plog.JSONUnmarshaler
	for _, l := range lines {
		ld, err := u.UnmarshalLogs(l)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ef.lines.path, err)
		}
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				recs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < recs.Len(); k++ {
					lr := recs.At(k)
					body, _ := lr.Body().AsRaw().(map[string]any)
					ef.events = append(ef.events, event{
						resource: rl.Resource().Attributes().AsRaw(),
						attrs:    lr.Attributes().AsRaw(),
						body:     body,
						time:     lr.Timestamp().AsTime(),
					})
				}
			}
		}
	}
	return ef.events, nil
}

// metricsFile reads a metrics file exporter's output.
type metricsFile struct {
	lines jsonLines
	// newest is the newest timestamp of the network metric seen: the collector's data time.
	newest time.Time
	// points counts each network data point, keyed by everything that identifies it and its value.
	points map[string]int
	total  int
	// interfaces seen per pod, to show that more than the default interface arrives.
	interfaces map[string]map[string]bool
	// last value per series and the pods one of whose counters went down (a restart).
	last   map[string]int64
	resets map[string]bool
}

func newMetricsFile(path string) *metricsFile {
	return &metricsFile{lines: jsonLines{path: path}, points: map[string]int{}, interfaces: map[string]map[string]bool{},
		last: map[string]int64{}, resets: map[string]bool{}}
}

// waitFirst waits for the first network point that collector c writes to the file.
func (mf *metricsFile) waitFirst(t testing.TB, c *collector) {
	t.Helper()
	eventually(t, 60*time.Second, "the first metrics in "+mf.lines.path, func() error {
		if err := mf.read(); err != nil || !mf.newest.IsZero() {
			return err
		}
		return c.orDead(fmt.Errorf("no %s point in %s yet", networkMetric, mf.lines.path))
	})
}

// waitDataTime waits until the file's data time, written by collector c, reaches until; data time
// follows the wall clock, so the wait lasts until then plus slack.
func (mf *metricsFile) waitDataTime(t testing.TB, c *collector, what string, until time.Time, slack time.Duration) {
	t.Helper()
	eventually(t, time.Until(until)+slack, what, func() error {
		if err := mf.read(); err != nil {
			return err
		}
		if mf.newest.Before(until) {
			return c.orDead(fmt.Errorf("data time %v, waiting for %v", mf.newest, until))
		}
		return nil
	})
}

// read takes in what was written since the last call.
func (mf *metricsFile) read() error {
	lines, err := mf.lines.next()
	if err != nil {
		return err
	}
	var u pmetric.JSONUnmarshaler
	for _, l := range lines {
		md, err := u.UnmarshalMetrics(l)
		if err != nil {
			return fmt.Errorf("%s: %w", mf.lines.path, err)
		}
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			res := rm.Resource().Attributes().AsRaw()
			for j := 0; j < rm.ScopeMetrics().Len(); j++ {
				ms := rm.ScopeMetrics().At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					if m := ms.At(k); m.Name() == networkMetric {
						if err := mf.add(res, m); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	return nil
}

func (mf *metricsFile) add(res map[string]any, m pmetric.Metric) error {
	if m.Type() != pmetric.MetricTypeSum {
		return fmt.Errorf("%s is a %s, want a Sum", m.Name(), m.Type())
	}
	pod, _ := res["k8s.pod.name"].(string)
	dps := m.Sum().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		attrs := dp.Attributes().AsRaw()
		key, err := json.Marshal([]any{ // encoding/json sorts map keys, so equal points give equal keys
			res, m.Name(), m.Unit(), m.Sum().AggregationTemporality().String(), m.Sum().IsMonotonic(),
			attrs, dp.StartTimestamp(), dp.Timestamp(), dp.ValueType().String(), dp.IntValue(), dp.DoubleValue(),
		})
		if err != nil {
			return err
		}
		mf.points[string(key)]++
		mf.total++
		if ts := dp.Timestamp().AsTime(); ts.After(mf.newest) {
			mf.newest = ts
		}
		series := fmt.Sprint(pod, "|", attrs["interface"], "|", attrs["direction"])
		if prev, ok := mf.last[series]; ok && dp.IntValue() < prev {
			mf.resets[pod] = true
		}
		mf.last[series] = dp.IntValue()
		if ifc, ok := attrs["interface"].(string); ok {
			if mf.interfaces[pod] == nil {
				mf.interfaces[pod] = map[string]bool{}
			}
			mf.interfaces[pod][ifc] = true
		}
	}
	return nil
}
