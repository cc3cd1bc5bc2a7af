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
}

// ServiceConfig is one workload and its normal traffic.
// The pointer fields are optional; nil takes the default shown in its comment.
type ServiceConfig struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`     // deployment, statefulset or daemonset
	Replicas  int    `json:"replicas"` // ignored for a daemonset (one pod per node)

	// Mean bytes per second a pod of this service receives and sends; both must be > 0
	// so that both ratios are defined.
	InBytesPerSec  float64 `json:"inBytesPerSec"`
	OutBytesPerSec float64 `json:"outBytesPerSec"`

	Jitter        *float64 `json:"jitter,omitempty"`        // per-second, per-direction noise amplitude; default 0.12
	Drift         *float64 `json:"drift,omitempty"`         // slow per-direction wander amplitude; default 0.15
	DriftPeriod   *float64 `json:"driftPeriod,omitempty"`   // seconds between the wander's knots; default 30
	Load          *float64 `json:"load,omitempty"`          // per-second noise shared by both directions; default 0.35
	Wave          *float64 `json:"wave,omitempty"`          // amplitude of a slow load wave shared by both directions; default 0.2
	WavePeriod    *float64 `json:"wavePeriod,omitempty"`    // seconds; default 900
	ReplicaSpread *float64 `json:"replicaSpread,omitempty"` // per-pod constant rate offset per direction; default 0.015

	// Interfaces and the share of the pod's traffic each carries; the first is the pod's
	// default interface. Default: eth0 carrying everything.
	Interfaces []InterfaceShare `json:"interfaces,omitempty"`

	// Container names; default: one container named like the service.
	Containers []string `json:"containers,omitempty"`
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
