package kubeletsim

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Simulator holds a resolved cluster and its counters. It is safe for concurrent use.
type Simulator struct {
	cluster   string
	seed      uint64
	start     time.Time
	day       int   // Config.Day, at least 1
	offset    int64 // estate seconds before simulated time 0: (day - 1) x 86400
	nodes     []string
	pods      []*simPod // sorted by node, namespace, name
	incidents []ScenarioIncident
	now       func() time.Time

	mu sync.Mutex // guards now and the pods' served counter states
}

// simPod is one pod and its served counter state.
type simPod struct {
	name, namespace, uid string
	service, kind        string // the configured workload
	replica              int
	node                 string
	containers           []string
	interfaces           []InterfaceShare
	startTime            time.Time // pod start, before the simulation
	containerStart       time.Time // container start before any simulated restart
	cpuMillis, memBytes  float64   // mean container CPU and memory, for plausible cpu/memory stats

	idle     *IdleConfig // the service's patterns, for the scenario
	spikes   *SpikeConfig
	schedule []RateChange

	traffic podTraffic
	effects *podEffects // nil until an incident targets the pod
	served  counterState
}

// New resolves cfg into concrete pods and incidents into concrete targets. Everything
// derives from seed; start is the wall time of simulated time 0.
func New(cfg Config, incidents []Incident, seed uint64, start time.Time) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	day := max(1, cfg.Day)
	s := &Simulator{
		cluster: cfg.Cluster,
		seed:    seed,
		start:   start,
		day:     day,
		offset:  int64(day-1) * daySeconds,
		nodes:   slices.Clone(cfg.Nodes),
		now:     time.Now,
	}
	byReplica := map[string][]*simPod{}
	for i := range cfg.Services {
		svc := &cfg.Services[i]
		names := podNames(seed, cfg.Cluster, svc, len(cfg.Nodes))
		// Round-robin from a per-service offset, so that single-replica services do not all land on the first node.
		offset := int(noiseHash(seed, stringHash("placement", cfg.Cluster, svc.Namespace, svc.Name), 0, 0) % uint64(len(cfg.Nodes)))
		for r, name := range names {
			node := cfg.Nodes[(offset+r)%len(cfg.Nodes)]
			if svc.Kind == KindDaemonSet {
				node = cfg.Nodes[r]
			}
			if err := checkPodName(svc, name); err != nil {
				return nil, err
			}
			p := newSimPod(seed, cfg.Cluster, svc, r, name, node, start, s.offset)
			s.pods = append(s.pods, p)
			byReplica[svc.Name] = append(byReplica[svc.Name], p)
		}
	}
	sort.Slice(s.pods, func(i, j int) bool {
		a, b := s.pods[i], s.pods[j]
		if a.node != b.node {
			return slices.Index(s.nodes, a.node) < slices.Index(s.nodes, b.node)
		}
		if a.namespace != b.namespace {
			return a.namespace < b.namespace
		}
		return a.name < b.name
	})

	for i := range incidents {
		in := incidents[i]
		if err := in.validate(); err != nil {
			return nil, fmt.Errorf("incident %d (%s %s/%d): %w", i, in.Kind, in.Service, in.Replica, err)
		}
		replicas, ok := byReplica[in.Service]
		if !ok {
			return nil, fmt.Errorf("incident %d: no service %q in the cluster", i, in.Service)
		}
		if in.Replica < 0 || in.Replica >= len(replicas) {
			return nil, fmt.Errorf("incident %d: service %q has replicas 0..%d, not %d", i, in.Service, len(replicas)-1, in.Replica)
		}
		p := replicas[in.Replica]
		if p.effects == nil {
			p.effects = &podEffects{}
		}
		switch in.Kind {
		case IncidentRestart:
			p.effects.restarts = append(p.effects.restarts, in.startStep())
			slices.Sort(p.effects.restarts)
		case IncidentExfiltration:
			p.effects.factors = append(p.effects.factors, stepFactor{from: in.startStep(), to: in.endStep(), rx: 1, tx: in.Factor})
		case IncidentDownload:
			p.effects.factors = append(p.effects.factors, stepFactor{from: in.startStep(), to: in.endStep(), rx: in.Factor, tx: 1})
		}
		si := ScenarioIncident{
			Kind: in.Kind, Service: in.Service, Replica: in.Replica,
			Pod: p.name, Namespace: p.namespace, UID: p.uid, Node: p.node,
			DetectionService: DetectionService(p.name), Key: s.cluster + ":" + DetectionService(p.name),
			Factor: in.Factor, Start: in.Start, End: in.End,
			StartTime: formatTime(start.Add(seconds(float64(in.startStep())))),
		}
		if in.End != 0 {
			si.EndTime = formatTime(start.Add(seconds(float64(in.endStep()))))
		}
		s.incidents = append(s.incidents, si)
	}
	return s, nil
}

// checkPodName refuses configurations whose pod names the detection would map to another
// service: the simulator exists to exercise the detection's naming rule, not to break it.
func checkPodName(svc *ServiceConfig, name string) error {
	want := svc.Name
	if svc.Kind == KindStatefulSet {
		want = name // each statefulset replica is its own key
	}
	if got := DetectionService(name); got != want {
		return fmt.Errorf("service %q: pod %q maps to detection service %q, want %q", svc.Name, name, got, want)
	}
	return nil
}

// The pod runs since before estate time 0 (start - offset seconds); on a later day its
// counters continue from the earlier days'.
func newSimPod(seed uint64, cluster string, svc *ServiceConfig, replica int, name, node string, start time.Time, offset int64) *simPod {
	estateStart := start.Add(-time.Duration(offset) * time.Second)
	subject := stringHash("pod", cluster, svc.Namespace, name)
	uptime := time.Duration(3600+noiseHash(seed, subject, 0, streamUptime)%(3*86400)) * time.Second
	delay := time.Duration(2+noiseHash(seed, subject, 0, streamContainerDelay)%9) * time.Second
	p := &simPod{
		name: name, namespace: svc.Namespace, uid: podUID(seed, cluster, svc.Namespace, name),
		service: svc.Name, kind: svc.Kind, replica: replica, node: node,
		containers: svc.containers(), interfaces: svc.interfaces(),
		idle: svc.Idle, spikes: svc.Spikes, schedule: slices.Clone(svc.Schedule),
		startTime: estateStart.Add(-uptime).Truncate(time.Second),
		traffic:   newPodTraffic(seed, subject, svc, offset),
		cpuMillis: 20 + (svc.InBytesPerSec+svc.OutBytesPerSec)/5e3,
		memBytes:  float64(48<<20) + float64(noiseHash(seed, subject, 0, streamMemory)%(200<<20)),
	}
	p.containerStart = p.startTime.Add(delay)
	// The pod's history before estate time 0 is its uptime at the mean rate; from there on
	// (the earlier days, on a later day) its counters sum the simulated seconds.
	p.served = newCounterState(-offset, uint64(p.traffic.inRate*uptime.Seconds()), uint64(p.traffic.outRate*uptime.Seconds()))
	return p
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// simTime is the simulated time of wall time at, in seconds; never negative.
func (s *Simulator) simTime(at time.Time) float64 {
	return max(0, at.Sub(s.start).Seconds())
}

// Start is the wall time of simulated time 0.
func (s *Simulator) Start() time.Time { return s.start }

// Nodes are the node names in configuration order.
func (s *Simulator) Nodes() []string { return slices.Clone(s.nodes) }

// SetClock replaces the wall clock the handlers read; for tests that step time.
func (s *Simulator) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

func (s *Simulator) hasNode(node string) bool { return slices.Contains(s.nodes, node) }

// podsOn lists the pods of node in their stable order.
func (s *Simulator) podsOn(node string) []*simPod {
	var out []*simPod
	for _, p := range s.pods {
		if p.node == node {
			out = append(out, p)
		}
	}
	return out
}

// Scenario describes the resolved cluster and incidents, so a test knows what to expect.
// addrs maps node names to listener addresses, for nodes being served.
func (s *Simulator) Scenario(addrs map[string]string) Scenario {
	sc := Scenario{
		Cluster:     s.cluster,
		Seed:        s.seed,
		StartTime:   s.start.UTC().Format(time.RFC3339Nano),
		Day:         s.day,
		EstateStart: s.start.Add(-time.Duration(s.offset) * time.Second).UTC().Format(time.RFC3339Nano),
		Namespaces:  []string{},
		Pods:        []ScenarioPod{},
		Incidents:   append([]ScenarioIncident{}, s.incidents...),
	}
	for _, n := range s.nodes {
		sc.Nodes = append(sc.Nodes, ScenarioNode{Name: n, Addr: addrs[n]})
	}
	for _, p := range s.pods {
		if !slices.Contains(sc.Namespaces, p.namespace) {
			sc.Namespaces = append(sc.Namespaces, p.namespace)
		}
		sc.Pods = append(sc.Pods, ScenarioPod{
			Name: p.name, Namespace: p.namespace, UID: p.uid, Node: p.node,
			Service: p.service, Kind: p.kind, Replica: p.replica,
			DetectionService: DetectionService(p.name), Key: s.cluster + ":" + DetectionService(p.name),
			Interfaces: interfaceNames(p.interfaces),
			StartTime:  formatTime(p.startTime),
			Idle:       p.idle, Spikes: p.spikes, Schedule: p.schedule,
		})
	}
	slices.Sort(sc.Namespaces)
	return sc
}

func interfaceNames(ifaces []InterfaceShare) []string {
	out := make([]string, len(ifaces))
	for i, in := range ifaces {
		out[i] = in.Name
	}
	return out
}

// Scenario is the JSON the simulator writes with --scenario-out.
type Scenario struct {
	Cluster   string `json:"cluster"`
	Seed      uint64 `json:"seed"`
	StartTime string `json:"startTime"` // wall time of simulated time 0, RFC 3339 with fraction
	Day       int    `json:"day"`       // the estate day simulated time 0 falls on, from 1
	// EstateStart is the wall time of estate time 0, the start of day 1, which the pods'
	// schedules count from.
	EstateStart string             `json:"estateStart"`
	Nodes       []ScenarioNode     `json:"nodes"`
	Namespaces  []string           `json:"namespaces"`
	Pods        []ScenarioPod      `json:"pods"`
	Incidents   []ScenarioIncident `json:"incidents"`
}

// ScenarioNode is a node and, when served, its listener address.
type ScenarioNode struct {
	Name string `json:"name"`
	Addr string `json:"addr,omitempty"`
}

// ScenarioPod is one simulated pod.
type ScenarioPod struct {
	Name             string   `json:"name"`
	Namespace        string   `json:"namespace"`
	UID              string   `json:"uid"`
	Node             string   `json:"node"`
	Service          string   `json:"service"` // the configured workload name
	Kind             string   `json:"kind"`
	Replica          int      `json:"replica"`
	DetectionService string   `json:"detectionService"` // the pod name with the detection's suffix pattern removed
	Key              string   `json:"key"`              // <cluster>:<detectionService>, the baseline key
	Interfaces       []string `json:"interfaces"`       // the first is the default interface
	StartTime        string   `json:"startTime"`

	// The service's patterns of real traffic, as configured; absent when it has none.
	Idle     *IdleConfig  `json:"idle,omitempty"`
	Spikes   *SpikeConfig `json:"spikes,omitempty"`
	Schedule []RateChange `json:"schedule,omitempty"`
}

// ScenarioIncident is one incident resolved to its pod.
type ScenarioIncident struct {
	Kind             string  `json:"kind"`
	Service          string  `json:"service"`
	Replica          int     `json:"replica"`
	Pod              string  `json:"pod"`
	Namespace        string  `json:"namespace"`
	UID              string  `json:"uid"`
	Node             string  `json:"node"`
	DetectionService string  `json:"detectionService"`
	Key              string  `json:"key"`
	Factor           float64 `json:"factor,omitempty"`
	Start            float64 `json:"start"`             // seconds after start, as configured
	End              float64 `json:"end,omitempty"`     // seconds after start; absent = no end
	StartTime        string  `json:"startTime"`         // wall time the effect begins (whole simulated second)
	EndTime          string  `json:"endTime,omitempty"` // wall time the effect ends
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
