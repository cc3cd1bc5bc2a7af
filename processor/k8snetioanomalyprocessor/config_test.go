package k8snetioanomalyprocessor

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
	"github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	defaults := engine.DefaultConfig()
	defaults.Baseline.Path = "testdata/baseline.csv"
	// profile: recommended changes these defaults; an explicit key still wins.
	recommended := defaults
	recommended.Profile, recommended.Mode, recommended.Learn.PerPod, recommended.Lateness = engine.ProfileRecommended, engine.ModeImmediate, true, 10*time.Second
	recommendedWindow := recommended
	recommendedWindow.Mode, recommendedWindow.Learn.PerPod = engine.ModeWindow, false

	custom := engine.Config{
		Profile: engine.ProfileRecommended,
		Recommended: engine.RecommendedConfig{
			Gate: 2.5, HighGate: 0, Sigmas: 4, MinAnomalous: 2 * time.Minute, AnomalousWithin: 10 * time.Minute,
			ServiceShiftPeers: 4, ServiceShiftFraction: 0.6,
		},
		Metric:             "container.network.io",
		Direction:          engine.DirectionConfig{Attribute: "network.io.direction", Inbound: "rx", Outbound: "tx"},
		InterfaceAttribute: "network.interface.name",
		Span:               30 * time.Second,
		Window:             30 * time.Minute,
		StdevMultiplier:    3.5,
		CountThreshold:     2,
		MaxAnomalies:       10,
		Mode:               engine.ModeImmediate,
		ClusterName:        "prod",
		NodeName:           "node-1",
		ServicePattern:     `-[a-z0-9]{5}$`,
		Baseline:           engine.BaselineConfig{Path: "/etc/k8snetio/baseline.csv", ReloadInterval: 5 * time.Minute, MaxBytes: 1 << 20},
		Lateness:           time.Minute,
		IdleFlush:          2 * time.Minute,
		MaxClockSkew:       time.Minute,
		Storage:            "file_storage/state",
		CheckpointInterval: 30 * time.Second,
		Exclude: []engine.ExcludeRule{
			{Namespace: "^kube-system$"},
			{Cluster: "^dev$", Pod: "^debug-"},
		},
		Event:  engine.EventConfig{Sourcetype: "kube:netio", Source: "otel", Index: "k8s_security"},
		Limits: engine.LimitsConfig{MaxPods: 5000, PodExpiry: 30 * time.Minute, MaxInterfaces: 4},
		Learn: engine.LearnConfig{
			Enabled: true, Path: "/var/lib/k8snetio/learned.csv", WriteInterval: time.Hour, Days: 7,
			PerPod: true, Volumes: true, MinCount: 100, Storage: "file_storage/state", Exclude: true,
		},
	}

	tests := []struct {
		name     string
		expected engine.Config
		queue    int // event_queue_size
		// wantErr is the one validation error expected, which names the field first.
		wantErr string
	}{
		{name: "", expected: defaults, queue: 1000},
		{name: "custom", expected: custom, queue: 50},
		{name: "recommended", expected: recommended, queue: 1000},
		{name: "recommended_window", expected: recommendedWindow, queue: 1000},
		{name: "bad_profile", wantErr: `profile: must be "parity" or "recommended", got "paranoid"`},
		{name: "bad_recommended", wantErr: "recommended.anomalous_within: must be longer than min_anomalous (5m0s), got 5m0s"},
		{name: "no_baseline_path", wantErr: "baseline.path: must name the baseline CSV file"},
		{name: "empty_metric", wantErr: "metric: must not be empty"},
		{name: "empty_direction_attribute", wantErr: "direction.attribute: must not be empty"},
		{name: "empty_direction_inbound", wantErr: "direction.inbound: must not be empty"},
		{name: "empty_direction_outbound", wantErr: "direction.outbound: must not be empty"},
		{name: "same_directions", wantErr: `direction: inbound and outbound must differ, both are "both"`},
		{name: "zero_span", wantErr: "span: must be positive, got 0s"},
		{name: "fractional_span", wantErr: "span: must be a whole number of seconds, got 1.5s"},
		{name: "zero_window", wantErr: "window: must be positive, got 0s"},
		{name: "window_not_multiple_of_span", wantErr: "window: must be a multiple of span (10s), got 25s"},
		{name: "zero_stdev_multiplier", wantErr: "stdev_multiplier: must be a positive finite number, got 0"},
		{name: "infinite_stdev_multiplier", wantErr: "stdev_multiplier: must be a positive finite number, got +Inf"},
		{name: "negative_count_threshold", wantErr: "count_threshold: must not be negative, got -1"},
		{name: "zero_max_anomalies", wantErr: "max_anomalies: must be at least 1, got 0"},
		{name: "bad_mode", wantErr: `mode: must be "window" or "immediate", got "hourly"`},
		{name: "empty_service_pattern", wantErr: "service_pattern: must not be empty"},
		{name: "bad_service_pattern", wantErr: "service_pattern: error parsing regexp: missing closing )"},
		{name: "negative_reload_interval", wantErr: "baseline.reload_interval: must not be negative (0 disables reloading), got -1s"},
		{name: "negative_lateness", wantErr: "lateness: must not be negative, got -1s"},
		{name: "negative_idle_flush", wantErr: "idle_flush: must not be negative (0 disables it), got -1s"},
		{name: "empty_exclude_rule", wantErr: "exclude[0]: sets no pattern; it would drop every pod"},
		{name: "bad_exclude_pattern", wantErr: "exclude[0].pod: error parsing regexp: missing closing ]"},
		{name: "empty_sourcetype", wantErr: "event.sourcetype: must not be empty"},
		{name: "empty_source", wantErr: "event.source: must not be empty"},
		{name: "zero_max_pods", wantErr: "limits.max_pods: must be at least 1, got 0"},
		{name: "zero_pod_expiry", wantErr: "limits.pod_expiry: must be positive, got 0s"},
		{name: "learn_without_path", wantErr: "learn.path: must name the file to write the learned baseline to"},
		{name: "zero_learn_write_interval", wantErr: "learn.write_interval: must be positive, got 0s"},
		{name: "zero_learn_days", wantErr: "learn.days: must be at least 1, got 0"},
		{name: "negative_learn_min_count", wantErr: "learn.min_count: must not be negative, got -1"},
		{name: "zero_event_queue_size", wantErr: "event_queue_size: must be at least 1, got 0"},
	}
	for _, tt := range tests {
		id := component.NewIDWithName(metadata.Type, tt.name)
		t.Run(id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))

			err = xconfmap.Validate(cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				// One error, once: the collector walks embedded fields too, so a second copy would show here.
				assert.NotContains(t, err.Error(), "\n")
				assert.True(t, strings.HasPrefix(err.Error(), tt.wantErr), "got %q, want it to start with %q", err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, &Config{engineConfig: tt.expected, EventQueueSize: tt.queue}, cfg)
		})
	}

	t.Run("unknown key", func(t *testing.T) {
		cfg := NewFactory().CreateDefaultConfig()
		sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "custom").String())
		require.NoError(t, err)
		require.NoError(t, sub.Merge(confmap.NewFromStringMap(map[string]any{"treshold": 3})))
		assert.ErrorContains(t, sub.Unmarshal(cfg), "treshold")
	})
}
