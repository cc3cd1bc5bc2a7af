package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The component's timing in these tests: short enough for a test, long enough that a window
// holds more spans than the count threshold.
const (
	testSpan       = 2 * time.Second
	testWindow     = 20 * time.Second
	testLateness   = time.Second
	countThreshold = 5
	spansPerWindow = int(testWindow / testSpan)
)

// HEC metadata the component is configured to put on its events.
const (
	eventSourcetype = "k8s:netio:anomaly:e2e"
	eventSource     = "k8s_netio_anomaly_e2e"
	eventIndex      = "e2e_security"
	hecToken        = "00000000-0000-0000-0000-0000000e2e00"
)

// wiring is how the component is placed in the collector's pipelines.
type wiring string

const (
	// processorWiring lists the processor in the metrics pipeline and in a logs pipeline fed by nop.
	processorWiring wiring = "processor"
	// connectorWiring ends the metrics pipeline in the connector, which starts the logs pipeline.
	connectorWiring wiring = "connector"
)

// collectorSetup says what to generate a collector configuration for.
type collectorSetup struct {
	wiring    wiring
	sim       *simulator
	component map[string]any // keys merged over the test defaults of the component's config
	// hec routes the events through the splunk_hec exporter into the collector's own splunk_hec
	// receiver before they reach the events file; without it they go to the file directly.
	hec bool
	// plainMetrics adds a second metrics pipeline from the same receiver without the component,
	// writing its own file, to show the component passes metrics on unchanged.
	plainMetrics bool
	// storageDir, when set, configures the file_storage extension there.
	storageDir string
	// appendFiles makes the file exporters append, so that the files hold every start's output
	// (by default each start truncates them).
	appendFiles bool
}

// collector is a generated configuration and the collector process running it.
type collector struct {
	bins         binaries
	configPath   string
	eventsPath   string // the events as the last logs pipeline received them (OTLP JSON lines)
	metricsPath  string // the metrics after the pipeline holding the component
	plainPath    string // the metrics of the pipeline without it
	telemetryURL string
	proc         *process
	starts       int
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeCollectorConfig generates the configuration into dir; JSON is YAML, and it needs no quoting care.
func writeCollectorConfig(t *testing.T, bins binaries, dir string, s collectorSetup) *collector {
	t.Helper()
	c := &collector{
		bins:        bins,
		configPath:  filepath.Join(dir, "collector.yaml"),
		eventsPath:  filepath.Join(dir, "events.json"),
		metricsPath: filepath.Join(dir, "metrics.json"),
		plainPath:   filepath.Join(dir, "metrics-plain.json"),
	}
	telemetryPort := freePort(t)
	c.telemetryURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", telemetryPort)

	const comp = "k8s_netio_anomaly"
	component := merge(map[string]any{
		"span":            testSpan.String(),
		"window":          testWindow.String(),
		"lateness":        testLateness.String(),
		"idle_flush":      "5s",
		"count_threshold": countThreshold,
		"baseline":        map[string]any{"path": s.sim.baseline},
		"event":           map[string]any{"sourcetype": eventSourcetype, "source": eventSource, "index": eventIndex},
	}, s.component)

	fileExporter := func(path string) map[string]any {
		return map[string]any{"path": path, "format": "json", "flush_interval": "200ms", "append": s.appendFiles}
	}
	receivers := map[string]any{
		"kubeletstats": map[string]any{
			"collection_interval": "1s",
			"auth_type":           "none",
			"endpoint":            "http://" + s.sim.addr,
			"metric_groups":       []string{"pod"},
			// Without it only the default interface is reported and per-pod summing is not exercised.
			"collect_all_network_interfaces": map[string]any{"pod": true},
		},
	}
	processors := map[string]any{
		"resource": map[string]any{"attributes": []any{
			map[string]any{"key": "k8s.cluster.name", "value": s.sim.cluster(), "action": "upsert"},
			map[string]any{"key": "k8s.node.name", "value": s.sim.node(), "action": "upsert"},
		}},
	}
	exporters := map[string]any{
		"file/metrics": fileExporter(c.metricsPath),
		"file/events":  fileExporter(c.eventsPath),
	}
	connectors := map[string]any{}
	pipelines := map[string]any{}

	metrics := map[string]any{"receivers": []string{"kubeletstats"}}
	events := map[string]any{}
	switch s.wiring {
	case processorWiring:
		processors[comp] = component
		receivers["nop"] = map[string]any{}
		metrics["processors"] = []string{"resource", comp}
		metrics["exporters"] = []string{"file/metrics"}
		events["receivers"] = []string{"nop"}
		events["processors"] = []string{comp}
	case connectorWiring:
		connectors[comp] = component
		metrics["processors"] = []string{"resource"}
		metrics["exporters"] = []string{"file/metrics", comp}
		events["receivers"] = []string{comp}
	default:
		t.Fatalf("unknown wiring %q", s.wiring)
	}
	pipelines["metrics"] = metrics
	pipelines["logs/anomalies"] = events

	if s.hec {
		hecPort := freePort(t)
		receivers["splunk_hec"] = map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", hecPort)}
		exporters["splunk_hec"] = map[string]any{
			"token":    hecToken,
			"endpoint": fmt.Sprintf("http://127.0.0.1:%d/services/collector", hecPort),
			// gzip is the default; said explicitly because the test means to cover it.
			"disable_compression": false,
		}
		events["exporters"] = []string{"splunk_hec"}
		pipelines["logs/hec"] = map[string]any{"receivers": []string{"splunk_hec"}, "exporters": []string{"file/events"}}
	} else {
		events["exporters"] = []string{"file/events"}
	}
	if s.plainMetrics {
		exporters["file/plain"] = fileExporter(c.plainPath)
		pipelines["metrics/plain"] = map[string]any{
			"receivers":  []string{"kubeletstats"},
			"processors": []string{"resource"},
			"exporters":  []string{"file/plain"},
		}
	}

	service := map[string]any{
		"pipelines": pipelines,
		"telemetry": map[string]any{
			"logs": map[string]any{"level": "info"},
			"metrics": map[string]any{"readers": []any{map[string]any{
				"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{
					"host": "127.0.0.1", "port": telemetryPort,
				}}},
			}}},
		},
	}
	cfg := map[string]any{
		"receivers":  receivers,
		"processors": processors,
		"exporters":  exporters,
		"service":    service,
	}
	if len(connectors) > 0 {
		cfg["connectors"] = connectors
	}
	if s.storageDir != "" {
		cfg["extensions"] = map[string]any{"file_storage": map[string]any{"directory": s.storageDir}}
		service["extensions"] = []string{"file_storage"}
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.configPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- collector config %s ---\n%s", c.configPath, data)
		}
	})
	return c
}

// merge returns base with over's keys set over it, nested maps merged key by key.
func merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = merge(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// start runs the collector on its configuration and waits until it says it is ready.
func (c *collector) start(t testing.TB) {
	t.Helper()
	c.starts++
	c.proc = startProcess(t, fmt.Sprintf("collector (start %d)", c.starts), c.bins.collector, "--config", c.configPath)
	eventually(t, 60*time.Second, "collector ready", func() error {
		if strings.Contains(c.proc.stderr.String(), "Everything is ready") {
			return nil
		}
		return c.orDead(errors.New(`no "Everything is ready" in its log yet`))
	})
}

// orDead is a polling condition's result: why it does not hold yet, or, when the collector has
// died, an error that ends the polling at once.
func (c *collector) orDead(why error) error {
	if done, err := c.proc.exited(); done {
		return fmt.Errorf("%w: the collector exited (%v) while waiting; %v", errGiveUp, err, why)
	}
	return why
}

// stop shuts the collector down gracefully, so that its exporters flush and its state is saved.
func (c *collector) stop(t testing.TB) {
	t.Helper()
	c.proc.stopClean(t)
}
