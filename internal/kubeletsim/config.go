package kubeletsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Workload kinds.
const (
	KindDeployment  = "deployment"
	KindStatefulSet = "statefulset"
	KindDaemonSet   = "daemonset"
)

// Config describes the simulated cluster. It is read from JSON; see DefaultConfig for an example.
type Config struct {
	Cluster  string          `json:"cluster"`
	Nodes    []string        `json:"nodes"`
	Services []ServiceConfig `json:"services"`

	// Day is the estate day simulated time 0 falls on, from 1 (0 too). Noise and schedules
	// run on estate time, so day 2 of a seed continues its day 1.
	Day int `json:"day,omitempty"`
}

// ServiceConfig is one workload and its normal traffic.
// The pointer fields are optional; nil takes the default shown in its comment.
type ServiceConfig struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`     // deployment, statefulset or daemonset
	Replicas  int    `json:"replicas"` // ignored for a daemonset (one pod per node)

	// Mean bytes per second a pod receives and sends; both > 0, so both ratios exist.
	InBytesPerSec  float64 `json:"inBytesPerSec"`
	OutBytesPerSec float64 `json:"outBytesPerSec"`

	Jitter        *float64 `json:"jitter,omitempty"`        // per-second, per-direction noise amplitude; default 0.12
	Drift         *float64 `json:"drift,omitempty"`         // slow per-direction wander amplitude; default 0.15
	DriftPeriod   *float64 `json:"driftPeriod,omitempty"`   // seconds between the wander's knots; default 30
	Load          *float64 `json:"load,omitempty"`          // per-second noise shared by both directions; default 0.35
	Wave          *float64 `json:"wave,omitempty"`          // amplitude of a slow load wave shared by both directions; default 0.2
	WavePeriod    *float64 `json:"wavePeriod,omitempty"`    // seconds; default 900
	ReplicaSpread *float64 `json:"replicaSpread,omitempty"` // per-pod constant rate offset per direction; default 0.015

	// Interfaces and their traffic shares, the first the default one; default: eth0 only.
	Interfaces []InterfaceShare `json:"interfaces,omitempty"`

	// Container names; default: one container named like the service.
	Containers []string `json:"containers,omitempty"`

	// Patterns of real traffic on top of the noise above (see patterns.go); absent = none.
	Idle     *IdleConfig  `json:"idle,omitempty"`     // short idle episodes: one direction collapses
	Spikes   *SpikeConfig `json:"spikes,omitempty"`   // short bursts of one direction
	Schedule []RateChange `json:"schedule,omitempty"` // level shifts and surges in estate time
}

// InterfaceShare is one network interface of a pod and the fraction of traffic it carries.
type InterfaceShare struct {
	Name  string  `json:"name"`
	Share float64 `json:"share"`
}

// Noise defaults; chosen (and checked by a test) so that a normal pod passes mean + 4 stdev
// of its key's baseline in well under 1 in 1000 pod-spans.
const (
	defaultJitter        = 0.12
	defaultDrift         = 0.15
	defaultDriftPeriod   = 30.0
	defaultLoad          = 0.35
	defaultWave          = 0.2
	defaultWavePeriod    = 900.0
	defaultReplicaSpread = 0.015
)

// DefaultConfig is a two-node cluster with a web frontend (sends much more than it
// receives), an ingest service (the opposite), a roughly balanced API, cache and
// database, and two daemonsets that mostly send.
func DefaultConfig() Config {
	tunnel := func(eth0 float64) []InterfaceShare {
		return []InterfaceShare{{Name: "eth0", Share: eth0}, {Name: "tunl0", Share: 1 - eth0}}
	}
	return Config{
		Cluster: "sim-cluster",
		Nodes:   []string{"sim-node-1", "sim-node-2"},
		Services: []ServiceConfig{
			{Name: "web", Namespace: "shop", Kind: KindDeployment, Replicas: 3, InBytesPerSec: 30e3, OutBytesPerSec: 450e3, Interfaces: tunnel(0.9), Containers: []string{"web", "envoy"}},
			{Name: "api", Namespace: "shop", Kind: KindDeployment, Replicas: 2, InBytesPerSec: 150e3, OutBytesPerSec: 110e3},
			{Name: "cache", Namespace: "shop", Kind: KindDeployment, Replicas: 2, InBytesPerSec: 60e3, OutBytesPerSec: 180e3},
			{Name: "ingest", Namespace: "data", Kind: KindDeployment, Replicas: 2, InBytesPerSec: 900e3, OutBytesPerSec: 35e3, Interfaces: tunnel(0.8)},
			{Name: "db", Namespace: "data", Kind: KindStatefulSet, Replicas: 2, InBytesPerSec: 260e3, OutBytesPerSec: 240e3, Interfaces: tunnel(0.7)},
			{Name: "fluentd", Namespace: "logging", Kind: KindDaemonSet, InBytesPerSec: 4e3, OutBytesPerSec: 220e3},
			{Name: "node-exporter", Namespace: "monitoring", Kind: KindDaemonSet, InBytesPerSec: 3e3, OutBytesPerSec: 45e3},
		},
	}
}

// Estates are the built-in clusters by name, for the command's --estate.
var Estates = map[string]func() Config{
	"default": DefaultConfig,
	"mixed":   MixedConfig,
}

// EstateNames lists the built-in estates, the default first.
func EstateNames() []string { return []string{"default", "mixed"} }

// MixedConfig is DefaultConfig (the same pods and traffic for a seed) plus ten low-volume
// single-replica services in namespace "rail" with patterns of real traffic (patterns.go);
// ln(out/in) per minute has a stdev of about 0.9 there, 0.1 in the default services. The
// demo keeps DefaultConfig: parity flags these services' idle minutes and spikes by design.
func MixedConfig() Config {
	cfg := DefaultConfig()
	idle := func(p float64) *IdleConfig { return &IdleConfig{Probability: p} }
	spikes := func(p float64) *SpikeConfig { return &SpikeConfig{Probability: p} }
	halveInDay2 := []RateChange{{From: daySeconds, In: 0.5}}
	rail := func(name string, in, out float64, id *IdleConfig, sp *SpikeConfig, sched []RateChange) ServiceConfig {
		return ServiceConfig{Name: name, Namespace: "rail", Kind: KindDeployment, Replicas: 1,
			InBytesPerSec: in, OutBytesPerSec: out, Idle: id, Spikes: sp, Schedule: sched}
	}
	cfg.Services = append(cfg.Services,
		// Quiet services: out/in about 23, idle 6-8 % of minutes, inbound spikes in 1 %.
		rail("booking", 1000, 23500, idle(0.08), spikes(0.01), nil),
		rail("refund", 1950, 44000, idle(0.08), spikes(0.01), nil),
		rail("route-planner", 1050, 23400, idle(0.075), spikes(0.01), nil),
		rail("contacts", 1600, 41000, idle(0.065), spikes(0.01), nil),
		// Small and static: idle minutes only dip (outbound to 7.5 %, inbound to 70 %).
		rail("avatar", 430, 3200, &IdleConfig{Probability: 0.07, In: 0.7, Out: 0.075}, spikes(0.01), nil),
		// Day-to-day level shifts: inbound halves from day 2 on, outbound stays.
		rail("train-info", 1000, 24000, idle(0.05), spikes(0.005), halveInDay2),
		rail("station", 1450, 29000, idle(0.015), spikes(0.005), halveInDay2),
		rail("pricing", 1500, 31500, idle(0.012), spikes(0.005), []RateChange{{From: daySeconds, In: 0.45}}),
		// A natural surge: inbound 8x for 7 hours every day, outbound flat.
		rail("seat", 3300, 78000, idle(0.045), spikes(0.01), []RateChange{{From: 3600, To: 8 * 3600, Every: daySeconds, In: 8}}),
		// Busy and smooth: no idle minutes, a wider wander.
		ServiceConfig{Name: "rail-gateway", Namespace: "rail", Kind: KindDeployment, Replicas: 1,
			InBytesPerSec: 146e3, OutBytesPerSec: 290e3, Drift: ptr(0.3), Wave: ptr(0.3), WavePeriod: ptr(6 * 3600.0)},
	)
	return cfg
}

func ptr[T any](v T) *T { return &v }

// LoadConfig reads a JSON Config; unknown fields are errors so that typos do not pass silently.
func LoadConfig(path string) (Config, error) {
	var cfg Config
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// dnsLabel is the shape Kubernetes requires of namespaces and (practically) workload names.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate reports the first problem that would make the simulated cluster unrealistic or ambiguous.
func (c *Config) Validate() error {
	if c.Cluster == "" || strings.Contains(c.Cluster, ":") {
		return fmt.Errorf("cluster %q: must be non-empty and contain no ':' (it is the first part of a baseline key)", c.Cluster)
	}
	if c.Day < 0 || c.Day > maxDay {
		return fmt.Errorf("day %d: want 1..%d", c.Day, maxDay)
	}
	if len(c.Nodes) == 0 {
		return errors.New("no nodes")
	}
	seenNode := map[string]bool{}
	for _, n := range c.Nodes {
		if n == "" || seenNode[n] {
			return fmt.Errorf("node %q: empty or duplicate", n)
		}
		seenNode[n] = true
	}
	if len(c.Services) == 0 {
		return errors.New("no services")
	}
	seenSvc := map[string]bool{}
	for i := range c.Services {
		s := &c.Services[i]
		where := fmt.Sprintf("service %q", s.Name)
		if !dnsLabel.MatchString(s.Name) || len(s.Name) > 40 {
			return fmt.Errorf("%s: name must be a DNS label of at most 40 characters", where)
		}
		// Unique across namespaces, since the baseline key has no namespace in it.
		if seenSvc[s.Name] {
			return fmt.Errorf("%s: duplicate service name", where)
		}
		seenSvc[s.Name] = true
		if !dnsLabel.MatchString(s.Namespace) {
			return fmt.Errorf("%s: namespace %q must be a DNS label", where, s.Namespace)
		}
		switch s.Kind {
		case KindDeployment, KindStatefulSet:
			if s.Replicas < 1 {
				return fmt.Errorf("%s: replicas must be at least 1", where)
			}
		case KindDaemonSet:
		default:
			return fmt.Errorf("%s: kind %q: want deployment, statefulset or daemonset", where, s.Kind)
		}
		if !(s.InBytesPerSec > 0) || !(s.OutBytesPerSec > 0) {
			return fmt.Errorf("%s: inBytesPerSec and outBytesPerSec must both be > 0", where)
		}
		for _, f := range []struct {
			name     string
			v        *float64
			min, max float64
		}{
			{"jitter", s.Jitter, 0, 0.9},
			{"drift", s.Drift, 0, 0.9},
			{"driftPeriod", s.DriftPeriod, 1, 86400},
			{"load", s.Load, 0, 0.9},
			{"wave", s.Wave, 0, 0.9},
			{"wavePeriod", s.WavePeriod, 1, 1e9},
			{"replicaSpread", s.ReplicaSpread, 0, 0.5},
		} {
			if f.v != nil && !(*f.v >= f.min && *f.v <= f.max) {
				return fmt.Errorf("%s: %s %v: want %v..%v", where, f.name, *f.v, f.min, f.max)
			}
		}
		seenIf := map[string]bool{}
		total := 0.0
		for _, in := range s.Interfaces {
			if in.Name == "" || seenIf[in.Name] || !(in.Share > 0) {
				return fmt.Errorf("%s: interface %q: name must be non-empty and unique, share > 0", where, in.Name)
			}
			seenIf[in.Name] = true
			total += in.Share
		}
		if len(s.Interfaces) > 0 && (total < 0.999 || total > 1.001) {
			return fmt.Errorf("%s: interface shares add up to %v, want 1", where, total)
		}
		if err := s.validatePatterns(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		seenC := map[string]bool{}
		for _, cn := range s.Containers {
			if !dnsLabel.MatchString(cn) || seenC[cn] {
				return fmt.Errorf("%s: container %q: must be a unique DNS label", where, cn)
			}
			seenC[cn] = true
		}
	}
	return nil
}

func orDefault(v *float64, def float64) float64 {
	if v == nil {
		return def
	}
	return *v
}

func (s *ServiceConfig) interfaces() []InterfaceShare {
	if len(s.Interfaces) == 0 {
		return []InterfaceShare{{Name: "eth0", Share: 1}}
	}
	return s.Interfaces
}

func (s *ServiceConfig) containers() []string {
	if len(s.Containers) == 0 {
		return []string{s.Name}
	}
	return s.Containers
}
