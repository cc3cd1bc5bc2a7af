package engine

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"

	"go.opentelemetry.io/collector/confmap"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/profile"
)

// DefaultServicePattern is the search's `replace('k8s.pod.name', ...)` pattern: it strips a
// ReplicaSet or DaemonSet suffix so that a pod's replicas share one service name.
const DefaultServicePattern = `-\w{5}$|-[abcdef0-9]{8,10}-\w{5}$`

// Mode says when an event leaves the engine.
type Mode string

const (
	// ModeWindow emits when the window closes, as the hourly scheduled search does.
	ModeWindow Mode = "window"
	// ModeImmediate emits as soon as a pod's count passes the threshold, once per pod and window.
	ModeImmediate Mode = "immediate"
)

// The profiles: parity reproduces the two searches exactly; recommended is the mode measured to
// hold on real traffic (see the README's "Recommended profile").
const (
	ProfileParity      = "parity"
	ProfileRecommended = "recommended"
)

// Config is the component's configuration; the processor and the connector share it.
type Config struct {
	// Profile is "parity" (default) or "recommended"; it sets the defaults of the other keys,
	// and explicit keys still win (see ApplyProfile).
	Profile string `mapstructure:"profile"`
	// Recommended holds the recommended profile's scoring; parity ignores it.
	Recommended RecommendedConfig `mapstructure:"recommended"`

	// Metric is the cumulative (or delta, or gauge) byte metric per pod, interface and direction.
	Metric string `mapstructure:"metric"`
	// Direction names the datapoint attribute and the values meaning inbound and outbound.
	Direction DirectionConfig `mapstructure:"direction"`
	// InterfaceAttribute tells series apart within a pod; several interfaces are summed.
	InterfaceAttribute string `mapstructure:"interface_attribute"`

	// Span is the search's `span=10s`.
	Span time.Duration `mapstructure:"span"`
	// Window is the tumbling counting window, aligned to multiples of itself in Unix time.
	Window time.Duration `mapstructure:"window"`
	// StdevMultiplier is k in `S > avg_S + k * stdev_S`.
	StdevMultiplier float64 `mapstructure:"stdev_multiplier"`
	// CountThreshold is the search's `where count > 5`: an event needs more anomalous spans than this.
	CountThreshold int `mapstructure:"count_threshold"`
	// MaxAnomalies caps the distinct anomaly texts in one event, like `values()`.
	MaxAnomalies int `mapstructure:"max_anomalies"`
	// Mode is "window" (default) or "immediate".
	Mode Mode `mapstructure:"mode"`

	// ClusterName is used when a point's resource has no k8s.cluster.name.
	ClusterName string `mapstructure:"cluster_name"`
	// NodeName is used when a point's resource has neither k8s.node.name nor host.name.
	NodeName string `mapstructure:"node_name"`
	// ServicePattern is removed from the pod name to give the service.
	ServicePattern string `mapstructure:"service_pattern"`

	Baseline BaselineConfig `mapstructure:"baseline"`

	// Lateness holds a span open this long after the newest data time seen.
	Lateness time.Duration `mapstructure:"lateness"`
	// IdleFlush advances a silent source's data time with the wall clock after this long.
	IdleFlush time.Duration `mapstructure:"idle_flush"`
	// MaxClockSkew is how far ahead of the wall clock (live) or of its source's data time
	// (replay) a point may be; points further ahead are dropped as "future" and move no time.
	MaxClockSkew time.Duration `mapstructure:"max_clock_skew"`

	// Storage names a storage extension (e.g. file_storage) that keeps the detection and
	// learning state across restarts.
	Storage string `mapstructure:"storage"`
	// CheckpointInterval is how often that state is saved besides at shutdown.
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`

	// Exclude drops matching pods before scoring (the search's filter macro).
	Exclude []ExcludeRule `mapstructure:"exclude"`

	Event  EventConfig  `mapstructure:"event"`
	Limits LimitsConfig `mapstructure:"limits"`

	// Learn makes the engine write a baseline learned from the stream (the baseline search).
	Learn LearnConfig `mapstructure:"learn"`
}

// LearnConfig is the in-collector form of "Baseline Of Kubernetes Container Network IO Ratio".
type LearnConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Path is where the learned baseline CSV is written; set it to baseline.path to score
	// against it as soon as it is written, or elsewhere to review and promote it by hand.
	Path string `mapstructure:"path"`
	// WriteInterval is how often the file (and the storage state) is written.
	WriteInterval time.Duration `mapstructure:"write_interval"`
	// Days is the history the file covers, like the search's earliest=-30d.
	Days int `mapstructure:"days"`
	// PerPod learns per pod-span, the unit the detection scores, instead of the search's
	// per-service mean of each span.
	PerPod bool `mapstructure:"per_pod"`
	// Volumes also learns inbound_network_io and outbound_network_io.
	Volumes bool `mapstructure:"volumes"`
	// SignalCounts appends count_<signal> columns (each signal's number of values), which
	// make merges of learned files exact where some spans missed a direction.
	SignalCounts bool `mapstructure:"signal_counts"`
	// MinCount leaves out keys learned from fewer spans, so a young baseline does not score.
	MinCount int64 `mapstructure:"min_count"`
	// Storage is the older name of the top-level storage key, still accepted.
	Storage string `mapstructure:"storage"`
	// Exclude applies the exclude rules to learning too; by default they only keep pods from
	// being scored, so that the learned baseline is the baseline search's.
	Exclude bool `mapstructure:"exclude"`
}

// RecommendedConfig is the recommended profile's scoring (internal/profile explains each rule).
type RecommendedConfig struct {
	// Gate: a ratio counts only while its numerator direction is at least gate x its usual rate.
	Gate float64 `mapstructure:"gate"`
	// HighGate also requires the numerator to be at least high_gate x its usual high (95th
	// percentile) rate, so a pod's recurring surges are not events; 0 disables it.
	HighGate float64 `mapstructure:"high_gate"`
	// Sigmas is the robust z (median/MAD of the log ratio) the ratio must rise by.
	Sigmas float64 `mapstructure:"sigmas"`
	// MinAnomalous is the anomalous time, within AnomalousWithin, that makes an event.
	MinAnomalous time.Duration `mapstructure:"min_anomalous"`
	// AnomalousWithin is the trailing window of data time MinAnomalous is counted in.
	AnomalousWithin time.Duration `mapstructure:"anomalous_within"`
	// ServiceShiftPeers and ServiceShiftFraction: this many pods of a service scored in a
	// window, more than this fraction anomalous, make one service record (profile.ServiceShift).
	ServiceShiftPeers    int     `mapstructure:"service_shift_peers"`
	ServiceShiftFraction float64 `mapstructure:"service_shift_fraction"`
}

// DirectionConfig maps the direction attribute onto inbound and outbound.
type DirectionConfig struct {
	Attribute string `mapstructure:"attribute"`
	Inbound   string `mapstructure:"inbound"`
	Outbound  string `mapstructure:"outbound"`
}

// BaselineConfig locates the baseline CSV and says how often to look for changes.
type BaselineConfig struct {
	Path           string        `mapstructure:"path"`
	ReloadInterval time.Duration `mapstructure:"reload_interval"`
	// MaxBytes refuses a baseline file larger than this.
	MaxBytes int64 `mapstructure:"max_bytes"`
}

// ExcludeRule drops a pod when every pattern it sets matches (unanchored regular expressions).
type ExcludeRule struct {
	Cluster   string `mapstructure:"cluster"`
	Namespace string `mapstructure:"namespace"`
	Node      string `mapstructure:"node"`
	Pod       string `mapstructure:"pod"`
	Service   string `mapstructure:"service"`
}

// EventConfig sets the HEC metadata of the anomaly events.
type EventConfig struct {
	Sourcetype string `mapstructure:"sourcetype"`
	Source     string `mapstructure:"source"`
	Index      string `mapstructure:"index"`
}

// LimitsConfig bounds the engine's memory.
type LimitsConfig struct {
	// MaxPods caps tracked pods; points of further pods are dropped and counted.
	MaxPods int `mapstructure:"max_pods"`
	// PodExpiry forgets a pod not seen for this long (in data time), once its spans are scored.
	PodExpiry time.Duration `mapstructure:"pod_expiry"`
	// MaxInterfaces caps the interfaces tracked per pod; points of further ones are dropped.
	MaxInterfaces int `mapstructure:"max_interfaces"`
}

// DefaultConfig reproduces the two searches.
func DefaultConfig() Config {
	return Config{
		Profile:            ProfileParity,
		Recommended:        defaultRecommended(),
		Metric:             "k8s.pod.network.io",
		Direction:          DirectionConfig{Attribute: "direction", Inbound: "receive", Outbound: "transmit"},
		InterfaceAttribute: "interface",
		Span:               10 * time.Second,
		Window:             time.Hour,
		StdevMultiplier:    4,
		CountThreshold:     5,
		MaxAnomalies:       100,
		Mode:               ModeWindow,
		ServicePattern:     DefaultServicePattern,
		Baseline:           BaselineConfig{ReloadInterval: time.Minute, MaxBytes: baseline.DefaultMaxBytes},
		Lateness:           30 * time.Second,
		IdleFlush:          time.Minute,
		MaxClockSkew:       5 * time.Minute,
		CheckpointInterval: time.Minute,
		Event: EventConfig{
			Sourcetype: "k8s:netio:anomaly",
			Source:     "k8s_netio_anomaly",
		},
		Limits: LimitsConfig{MaxPods: 100000, PodExpiry: 10 * time.Minute, MaxInterfaces: 16},
		Learn:  LearnConfig{WriteInterval: 15 * time.Minute, Days: 30, MinCount: 360},
	}
}

func defaultRecommended() RecommendedConfig {
	p, r := profile.Recommended(), profile.RecommendedRule()
	return RecommendedConfig{
		Gate: p.Gate, HighGate: p.HighGate, Sigmas: p.K,
		MinAnomalous: r.MinAnomalous, AnomalousWithin: r.Within,
		ServiceShiftPeers: 3, ServiceShiftFraction: 0.5,
	}
}

// ApplyProfile sets the defaults of the profile conf names, before conf's keys are decoded over
// them, so that explicit keys win: `profile: recommended` with `mode: window` keeps window mode.
func (c *Config) ApplyProfile(conf *confmap.Conf) error {
	if conf == nil || !conf.IsSet("profile") {
		return nil
	}
	name, ok := conf.Get("profile").(string)
	if !ok {
		return fmt.Errorf("profile: must be %q or %q", ProfileParity, ProfileRecommended)
	}
	switch name {
	case ProfileRecommended:
		c.Profile = ProfileRecommended
		c.Mode = ModeImmediate        // alert as soon as the evidence is there
		c.Learn.PerPod = true         // learn the unit the detection scores
		c.Lateness = 10 * time.Second // exporters reorder by seconds; each second here is latency
	case ProfileParity:
		c.Profile = ProfileParity
	}
	return nil // an unknown name is Validate's to report
}

// StorageID is the storage extension that keeps state: storage, or its older name learn.storage.
func (c *Config) StorageID() string {
	if c.Storage != "" {
		return c.Storage
	}
	return c.Learn.Storage
}

// Validate reports every bad value, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Profile != ProfileParity && c.Profile != ProfileRecommended {
		bad("profile", "must be %q or %q, got %q", ProfileParity, ProfileRecommended, c.Profile)
	}
	if r := c.Recommended; c.Profile == ProfileRecommended {
		if !(r.Gate >= 0) || math.IsInf(r.Gate, 0) {
			bad("recommended.gate", "must be a finite number >= 0, got %v", r.Gate)
		}
		if !(r.HighGate >= 0) || math.IsInf(r.HighGate, 0) {
			bad("recommended.high_gate", "must be a finite number >= 0 (0 disables it), got %v", r.HighGate)
		}
		if !(r.Sigmas > 0) || math.IsInf(r.Sigmas, 0) {
			bad("recommended.sigmas", "must be a positive finite number, got %v", r.Sigmas)
		}
		if r.MinAnomalous <= 0 {
			bad("recommended.min_anomalous", "must be positive, got %s", r.MinAnomalous)
		}
		if r.AnomalousWithin <= r.MinAnomalous {
			bad("recommended.anomalous_within", "must be longer than min_anomalous (%s), got %s", r.MinAnomalous, r.AnomalousWithin)
		}
		if r.ServiceShiftPeers < 2 {
			bad("recommended.service_shift_peers", "must be at least 2, got %d", r.ServiceShiftPeers)
		}
		if !(r.ServiceShiftFraction >= 0 && r.ServiceShiftFraction < 1) {
			bad("recommended.service_shift_fraction", "must be in [0, 1), got %v", r.ServiceShiftFraction)
		}
	}
	if c.Metric == "" {
		bad("metric", "must not be empty")
	}
	if c.Direction.Attribute == "" {
		bad("direction.attribute", "must not be empty")
	}
	if c.Direction.Inbound == "" {
		bad("direction.inbound", "must not be empty")
	}
	if c.Direction.Outbound == "" {
		bad("direction.outbound", "must not be empty")
	}
	if c.Direction.Inbound != "" && c.Direction.Inbound == c.Direction.Outbound {
		bad("direction", "inbound and outbound must differ, both are %q", c.Direction.Inbound)
	}
	if c.Span <= 0 {
		bad("span", "must be positive, got %s", c.Span)
	} else if c.Span%time.Second != 0 {
		bad("span", "must be a whole number of seconds, got %s", c.Span)
	}
	if c.Window <= 0 {
		bad("window", "must be positive, got %s", c.Window)
	} else if c.Span > 0 && c.Window%c.Span != 0 {
		bad("window", "must be a multiple of span (%s), got %s", c.Span, c.Window)
	}
	if !(c.StdevMultiplier > 0) || math.IsInf(c.StdevMultiplier, 0) {
		bad("stdev_multiplier", "must be a positive finite number, got %v", c.StdevMultiplier)
	}
	if c.CountThreshold < 0 {
		bad("count_threshold", "must not be negative, got %d", c.CountThreshold)
	}
	if c.MaxAnomalies < 1 {
		bad("max_anomalies", "must be at least 1, got %d", c.MaxAnomalies)
	}
	if c.Mode != ModeWindow && c.Mode != ModeImmediate {
		bad("mode", "must be %q or %q, got %q", ModeWindow, ModeImmediate, c.Mode)
	}
	if c.ServicePattern == "" {
		bad("service_pattern", "must not be empty")
	} else if _, err := regexp.Compile(c.ServicePattern); err != nil {
		bad("service_pattern", "%v", err)
	}
	if c.Baseline.Path == "" {
		bad("baseline.path", "must name the baseline CSV file (with learn.enabled it may not exist yet)")
	}
	if c.Baseline.ReloadInterval < 0 {
		bad("baseline.reload_interval", "must not be negative (0 disables reloading), got %s", c.Baseline.ReloadInterval)
	}
	if c.Lateness < 0 {
		bad("lateness", "must not be negative, got %s", c.Lateness)
	}
	if c.IdleFlush < 0 {
		bad("idle_flush", "must not be negative (0 disables it), got %s", c.IdleFlush)
	}
	if c.MaxClockSkew <= 0 {
		bad("max_clock_skew", "must be positive, got %s", c.MaxClockSkew)
	}
	if c.Storage != "" && c.Learn.Storage != "" && c.Storage != c.Learn.Storage {
		bad("learn.storage", "is the older name of storage; both are set and differ (%q, %q)", c.Learn.Storage, c.Storage)
	}
	if c.CheckpointInterval <= 0 {
		bad("checkpoint_interval", "must be positive, got %s", c.CheckpointInterval)
	}
	if c.Baseline.MaxBytes < 1 {
		bad("baseline.max_bytes", "must be positive, got %d", c.Baseline.MaxBytes)
	}
	for i, r := range c.Exclude {
		if r == (ExcludeRule{}) {
			bad(fmt.Sprintf("exclude[%d]", i), "sets no pattern; it would drop every pod")
		}
		for _, p := range r.patterns() {
			if _, err := regexp.Compile(p.pattern); err != nil {
				bad(fmt.Sprintf("exclude[%d].%s", i, p.field), "%v", err)
			}
		}
	}
	if c.Event.Sourcetype == "" {
		bad("event.sourcetype", "must not be empty")
	}
	if c.Event.Source == "" {
		bad("event.source", "must not be empty")
	}
	switch {
	case c.Limits.MaxPods < 1:
		bad("limits.max_pods", "must be at least 1, got %d", c.Limits.MaxPods)
	case c.Limits.MaxPods > math.MaxInt32: // a pod keeps its place in its node's list in an int32
		bad("limits.max_pods", "must be at most %d, got %d", math.MaxInt32, c.Limits.MaxPods)
	}
	if c.Limits.PodExpiry <= 0 {
		bad("limits.pod_expiry", "must be positive, got %s", c.Limits.PodExpiry)
	}
	if c.Limits.MaxInterfaces < 1 {
		bad("limits.max_interfaces", "must be at least 1, got %d", c.Limits.MaxInterfaces)
	}
	if c.Learn.Enabled {
		if c.Learn.Path == "" {
			bad("learn.path", "must name the file to write the learned baseline to")
		}
		if c.Learn.WriteInterval <= 0 {
			bad("learn.write_interval", "must be positive, got %s", c.Learn.WriteInterval)
		}
		if c.Learn.Days < 1 {
			bad("learn.days", "must be at least 1, got %d", c.Learn.Days)
		}
		if c.Learn.MinCount < 0 {
			bad("learn.min_count", "must not be negative, got %d", c.Learn.MinCount)
		}
	}
	return errors.Join(errs...)
}
