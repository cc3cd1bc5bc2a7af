package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Names of the component's own metrics as the collector's Prometheus endpoint serves them.
const (
	telDatapointsUsed    = "otelcol_k8s_netio_anomaly_datapoints_used_total"
	telDatapointsDropped = "otelcol_k8s_netio_anomaly_datapoints_dropped_total"
	telPodsTracked       = "otelcol_k8s_netio_anomaly_pods_tracked"
	telSpansScored       = "otelcol_k8s_netio_anomaly_spans_scored_total"
	telSpansAnomalous    = "otelcol_k8s_netio_anomaly_spans_anomalous_total"
	telEventsEmitted     = "otelcol_k8s_netio_anomaly_events_emitted_total"
	telBaselineKeys      = "otelcol_k8s_netio_anomaly_baseline_keys"
	telReloadFailures    = "otelcol_k8s_netio_anomaly_baseline_reload_failures_total"
	telLearnWriteErrors  = "otelcol_k8s_netio_anomaly_learn_write_failures_total"
)

// telemetry is one scrape: every sample's value by metric name, one per label set.
type telemetry map[string][]float64

// sum adds a metric over its label sets (the processor may report once per pipeline); absent is 0.
func (tm telemetry) sum(name string) float64 {
	var s float64
	for _, v := range tm[name] {
		s += v
	}
	return s
}

// gauge is a gauge's value when all its label sets agree on it.
func (tm telemetry) gauge(name string) (float64, error) {
	vs := tm[name]
	if len(vs) == 0 {
		return 0, fmt.Errorf("no %s in the telemetry", name)
	}
	for _, v := range vs[1:] {
		if v != vs[0] {
			return 0, fmt.Errorf("%s has different values per label set: %v", name, vs)
		}
	}
	return vs[0], nil
}

var telemetryClient = &http.Client{Timeout: 5 * time.Second}

// telemetry scrapes the collector's Prometheus pull endpoint (text exposition format).
func (c *collector) telemetry() (telemetry, error) {
	resp, err := telemetryClient.Get(c.telemetryURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s: %s: %s", c.telemetryURL, resp.Status, b)
	}
	tm := telemetry{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// name{labels} value [timestamp], or name value [timestamp]
		name, rest := line, ""
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("bad telemetry line %q", line)
			}
			name, rest = line[:i], line[j+1:]
		} else if i := strings.IndexByte(line, ' '); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("bad telemetry line %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad telemetry line %q: %v", line, err)
		}
		tm[name] = append(tm[name], v)
	}
	return tm, sc.Err()
}
