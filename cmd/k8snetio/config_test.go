package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// collectorConfig is an agent's collector config with the component as a processor; the other
// sections hold references that replay must leave alone.
const collectorConfig = `receivers:
  kubeletstats:
    collection_interval: 10s
    auth_type: serviceAccount
    endpoint: https://${env:K8S_NODE_NAME}:10250
processors:
  batch: {}
  resource:
    attributes:
      - {key: k8s.cluster.name, value: demo, action: insert}
  k8s_netio_anomaly/netio:
    window: 1m
    baseline:
      path: baseline.csv
exporters:
  splunk_hec:
    token: ${file:/var/run/secrets/hec-token}
    endpoint: https://splunk.example:8088
service:
  pipelines:
    metrics:
      receivers: [kubeletstats]
      processors: [resource, k8s_netio_anomaly/netio, batch]
      exporters: [splunk_hec]
`

// inConfigDir writes a config next to a copy of the example baseline, so its relative path resolves.
func inConfigDir(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "baseline.csv", readFile(t, exampleBaseline))
	return writeFile(t, dir, "collector.yaml", config)
}

func TestConfigCollectorConfig(t *testing.T) {
	cfg := inConfigDir(t, collectorConfig)
	wantExpected(t, runArgs(t, "", "replay", "--config", cfg, exampleMetrics))
	wantExpected(t, runArgs(t, "", "replay", "--config", cfg, "--component", "k8s_netio_anomaly/netio", exampleMetrics))
}

func TestConfigCollectorConfigSeveral(t *testing.T) {
	// A gateway's config: the processor learns nothing here, the connector is the one to replay.
	config := strings.Replace(collectorConfig, "exporters:", `connectors:
  k8s_netio_anomaly:
    window: 1m
    baseline: {path: baseline.csv}
  k8s_netio_anomaly/netio:
    window: 1h
    baseline: {path: baseline.csv}
exporters:`, 1)
	config = strings.Replace(config, "  k8s_netio_anomaly/netio:\n    window: 1m", "  k8s_netio_anomaly/netio:\n    window: 3m", 1)
	cfg := inConfigDir(t, config)

	r := runArgs(t, "", "replay", "--config", cfg, exampleMetrics)
	wantFailure(t, r, exitUsage, "several k8s_netio_anomaly components",
		"connector/k8s_netio_anomaly, connector/k8s_netio_anomaly/netio, processor/k8s_netio_anomaly/netio", "--component ID")

	wantExpected(t, runArgs(t, "", "replay", "--config", cfg, "--component", "k8s_netio_anomaly", exampleMetrics))

	r = runArgs(t, "", "replay", "--config", cfg, "--component", "k8s_netio_anomaly/netio", exampleMetrics)
	wantFailure(t, r, exitUsage, "both as a processor and as a connector", "processor/k8s_netio_anomaly/netio")

	// The 3 m window holds the whole replay: 6 + 5 = 11 anomalous spans in one window.
	r = runArgs(t, "", "replay", "--config", cfg, "--component", "processor/k8s_netio_anomaly/netio", exampleMetrics)
	if r.code != exitOK || !strings.Contains(r.stdout, `"count":11`) {
		t.Errorf("processor/k8s_netio_anomaly/netio: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	r = runArgs(t, "", "replay", "--config", cfg, "--component", "k8s_netio_anomaly/other", exampleMetrics)
	wantFailure(t, r, exitUsage, "--component k8s_netio_anomaly/other: not in", "connector/k8s_netio_anomaly,")
}

func TestConfigCollectorConfigWithout(t *testing.T) {
	config := strings.Replace(collectorConfig, "k8s_netio_anomaly/netio:", "transform:", 1)
	r := runArgs(t, "", "replay", "--config", inConfigDir(t, config), exampleMetrics)
	wantFailure(t, r, exitFailure, "no k8s_netio_anomaly processor or connector")
}

func TestConfigComponentFlagNeedsCollectorConfig(t *testing.T) {
	r := runArgs(t, "", "replay", "--config", exampleConfig, "--component", "k8s_netio_anomaly", exampleMetrics)
	wantFailure(t, r, exitUsage, "is not a collector config")
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, config string
		stderrHas    []string
	}{
		{"unknown key", "spann: 10s\nbaseline: {path: baseline.csv}\n", []string{"collector.yaml:", "spann"}},
		{"unknown nested key", "baseline: {path: baseline.csv, reload: 1m}\n", []string{"reload"}},
		{"bad duration", "span: ten seconds\nbaseline: {path: baseline.csv}\n", []string{"'span' time: invalid duration"}},
		{"invalid value", "window: 15s\nbaseline: {path: baseline.csv}\n",
			[]string{"invalid configuration:", "window: must be a multiple of span (10s), got 15s"}},
		{"not YAML", "span: [10s\n", []string{"collector.yaml:", "yaml"}},
		{"not a map", "- span: 10s\n", []string{"collector.yaml:", "cannot be used as a Conf"}},
		{"unknown key in a collector config", strings.Replace(collectorConfig, "    window: 1m\n", "    windw: 1m\n", 1),
			[]string{"processors::k8s_netio_anomaly/netio", "windw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runArgs(t, "", "replay", "--config", inConfigDir(t, tt.config), exampleMetrics)
			wantFailure(t, r, exitFailure, tt.stderrHas...)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		r := runArgs(t, "", "replay", "--config", filepath.Join(t.TempDir(), "none.yaml"), exampleMetrics)
		wantFailure(t, r, exitFailure, "none.yaml")
	})
}

func TestConfigEnv(t *testing.T) {
	t.Setenv("K8SNETIO_TEST_WINDOW", "1m")
	cfg := inConfigDir(t, "window: ${env:K8SNETIO_TEST_WINDOW}\nspan: ${env:K8SNETIO_TEST_SPAN:-10s}\nnode_name: ${env:K8SNETIO_TEST_UNSET}\nbaseline: {path: baseline.csv}\n")
	got, err := loadConfig(configOptions{path: cfg}, newLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if got.Window != time.Minute || got.Span != 10*time.Second || got.NodeName != "" {
		t.Errorf("window %s, span %s, node_name %q; want 1m0s, 10s, empty", got.Window, got.Span, got.NodeName)
	}
	wantExpected(t, runArgs(t, "", "replay", "--config", cfg, exampleMetrics))
}

func TestConfigBaselinePath(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ inFile, flag, want string }{
		{"b.csv", "", filepath.Join(dir, "b.csv")},
		{"sub/b.csv", "", filepath.Join(dir, "sub", "b.csv")},
		{"/abs/b.csv", "", "/abs/b.csv"},
		{"b.csv", "other.csv", "other.csv"}, // the flag is relative to the working directory, as command lines are
	} {
		cfg := writeFile(t, dir, "c.yaml", "baseline: {path: "+tt.inFile+"}\n")
		got, err := loadConfig(configOptions{path: cfg, baseline: tt.flag}, newLogger(io.Discard))
		if err != nil {
			t.Fatal(err)
		}
		if got.Baseline.Path != tt.want {
			t.Errorf("path %q, --baseline %q: got %q, want %q", tt.inFile, tt.flag, got.Baseline.Path, tt.want)
		}
	}
}
