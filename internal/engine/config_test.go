package engine

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestConfigValidate: one bad value per rule; the error names the field (and only that field).
func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.Baseline.Path = "baseline.csv"
	if err := good.Validate(); err != nil {
		t.Fatalf("default config with a path: %v", err)
	}
	tests := []struct {
		field  string
		mutate func(*Config)
	}{
		{"metric", func(c *Config) { c.Metric = "" }},
		{"direction.attribute", func(c *Config) { c.Direction.Attribute = "" }},
		{"direction.inbound", func(c *Config) { c.Direction.Inbound = "" }},
		{"direction.outbound", func(c *Config) { c.Direction.Outbound = "" }},
		{"direction", func(c *Config) { c.Direction.Outbound = "receive" }},
		{"span", func(c *Config) { c.Span = 0 }},
		{"span", func(c *Config) { c.Span = -10 * time.Second }},
		{"span", func(c *Config) { c.Span = 1500 * time.Millisecond }},
		{"window", func(c *Config) { c.Window = 0 }},
		{"window", func(c *Config) { c.Window = 15 * time.Second }},
		{"stdev_multiplier", func(c *Config) { c.StdevMultiplier = 0 }},
		{"stdev_multiplier", func(c *Config) { c.StdevMultiplier = -1 }},
		{"stdev_multiplier", func(c *Config) { c.StdevMultiplier = math.NaN() }},
		{"stdev_multiplier", func(c *Config) { c.StdevMultiplier = math.Inf(1) }},
		{"count_threshold", func(c *Config) { c.CountThreshold = -1 }},
		{"max_anomalies", func(c *Config) { c.MaxAnomalies = 0 }},
		{"mode", func(c *Config) { c.Mode = "sometimes" }},
		{"mode", func(c *Config) { c.Mode = "" }},
		{"service_pattern", func(c *Config) { c.ServicePattern = "" }},
		{"service_pattern", func(c *Config) { c.ServicePattern = "-\\w{5" + "(" }},
		{"baseline.path", func(c *Config) { c.Baseline.Path = "" }},
		{"baseline.reload_interval", func(c *Config) { c.Baseline.ReloadInterval = -time.Second }},
		{"lateness", func(c *Config) { c.Lateness = -time.Second }},
		{"idle_flush", func(c *Config) { c.IdleFlush = -time.Second }},
		{"exclude[0]", func(c *Config) { c.Exclude = []ExcludeRule{{}} }},
		{"exclude[1].pod", func(c *Config) { c.Exclude = []ExcludeRule{{Namespace: "x"}, {Pod: "("}} }},
		{"exclude[0].cluster", func(c *Config) { c.Exclude = []ExcludeRule{{Cluster: "["}} }},
		{"exclude[0].node", func(c *Config) { c.Exclude = []ExcludeRule{{Node: "a**"}} }},
		{"exclude[0].service", func(c *Config) { c.Exclude = []ExcludeRule{{Service: "(?P<"}} }},
		{"exclude[0].namespace", func(c *Config) { c.Exclude = []ExcludeRule{{Namespace: "\\"}} }},
		{"event.sourcetype", func(c *Config) { c.Event.Sourcetype = "" }},
		{"event.source", func(c *Config) { c.Event.Source = "" }},
		{"limits.max_pods", func(c *Config) { c.Limits.MaxPods = 0 }},
		{"limits.max_pods", func(c *Config) { c.Limits.MaxPods = math.MaxInt32 + 1 }},
		{"limits.pod_expiry", func(c *Config) { c.Limits.PodExpiry = 0 }},
		{"learn.path", func(c *Config) { c.Learn.Enabled = true }},
		{"learn.write_interval", func(c *Config) { c.Learn.Enabled, c.Learn.Path, c.Learn.WriteInterval = true, "l.csv", 0 }},
		{"learn.days", func(c *Config) { c.Learn.Enabled, c.Learn.Path, c.Learn.Days = true, "l.csv", 0 }},
		{"learn.min_count", func(c *Config) { c.Learn.Enabled, c.Learn.Path, c.Learn.MinCount = true, "l.csv", -1 }},
	}
	for _, tc := range tests {
		c := good
		tc.mutate(&c)
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: no error", tc.field)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, tc.field+": ") || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one error starting with %q", tc.field, msg, tc.field+": ")
		}
	}
	// Zero values that are allowed: count_threshold 0, lateness 0, idle_flush 0, reload 0.
	c := good
	c.CountThreshold, c.Lateness, c.IdleFlush, c.Baseline.ReloadInterval = 0, 0, 0, 0
	if err := c.Validate(); err != nil {
		t.Errorf("zero values: %v", err)
	}
	// Learning settings are not checked while learning is off.
	c = good
	c.Learn.Days, c.Learn.WriteInterval = 0, 0
	if err := c.Validate(); err != nil {
		t.Errorf("learn off: %v", err)
	}
	c.Learn.Enabled, c.Learn.Path = true, "learned.csv"
	c.Learn.Days, c.Learn.WriteInterval = 30, time.Minute
	if err := c.Validate(); err != nil {
		t.Errorf("learn on: %v", err)
	}
}

// TestConfigValidateReportsAll: several bad values give one line each.
func TestConfigValidateReportsAll(t *testing.T) {
	c := DefaultConfig()
	c.Metric, c.MaxAnomalies = "", 0
	err := c.Validate() // baseline.path is empty too
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "metric: ") || !strings.HasPrefix(lines[1], "max_anomalies: ") ||
		!strings.HasPrefix(lines[2], "baseline.path: ") {
		t.Errorf("errors %q", lines)
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Metric != "k8s.pod.network.io" || c.Direction != (DirectionConfig{"direction", "receive", "transmit"}) ||
		c.InterfaceAttribute != "interface" || c.Span != 10*time.Second || c.Window != time.Hour ||
		c.StdevMultiplier != 4 || c.CountThreshold != 5 || c.MaxAnomalies != 100 || c.Mode != ModeWindow ||
		c.ServicePattern != `-\w{5}$|-[abcdef0-9]{8,10}-\w{5}$` || len(c.Exclude) != 0 {
		t.Errorf("defaults differ from the search: %+v", c)
	}
}
