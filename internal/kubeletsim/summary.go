package kubeletsim

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// The types below mirror the parts of k8s.io/kubelet/pkg/apis/stats/v1alpha1 that are
// served, with the same JSON names; that module is not a dependency of this one.

// Summary is the kubelet's /stats/summary document.
type Summary struct {
	Node NodeStats  `json:"node"`
	Pods []PodStats `json:"pods"`
}

// NodeStats is the node part of a Summary.
type NodeStats struct {
	NodeName  string        `json:"nodeName"`
	StartTime KubeTime      `json:"startTime"`
	CPU       *CPUStats     `json:"cpu,omitempty"`
	Memory    *MemoryStats  `json:"memory,omitempty"`
	Network   *NetworkStats `json:"network,omitempty"`
}

// PodStats is one pod of a Summary.
type PodStats struct {
	PodRef     PodReference     `json:"podRef"`
	StartTime  KubeTime         `json:"startTime"`
	Containers []ContainerStats `json:"containers"`
	CPU        *CPUStats        `json:"cpu,omitempty"`
	Memory     *MemoryStats     `json:"memory,omitempty"`
	Network    *NetworkStats    `json:"network,omitempty"`
}

// PodReference identifies a pod.
type PodReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
}

// ContainerStats is one container of a pod.
type ContainerStats struct {
	Name      string       `json:"name"`
	StartTime KubeTime     `json:"startTime"`
	CPU       *CPUStats    `json:"cpu,omitempty"`
	Memory    *MemoryStats `json:"memory,omitempty"`
}

// CPUStats is CPU usage.
type CPUStats struct {
	Time                 KubeTime `json:"time"`
	UsageNanoCores       *uint64  `json:"usageNanoCores,omitempty"`
	UsageCoreNanoSeconds *uint64  `json:"usageCoreNanoSeconds,omitempty"`
}

// MemoryStats is memory usage.
type MemoryStats struct {
	Time            KubeTime `json:"time"`
	UsageBytes      *uint64  `json:"usageBytes,omitempty"`
	WorkingSetBytes *uint64  `json:"workingSetBytes,omitempty"`
	RSSBytes        *uint64  `json:"rssBytes,omitempty"`
	PageFaults      *uint64  `json:"pageFaults,omitempty"`
	MajorPageFaults *uint64  `json:"majorPageFaults,omitempty"`
}

// NetworkStats is a pod's or node's network counters; the embedded InterfaceStats is the
// default interface (v1alpha1 inlines it the same way).
type NetworkStats struct {
	Time KubeTime `json:"time"`
	InterfaceStats
	Interfaces []InterfaceStats `json:"interfaces,omitempty"`
}

// InterfaceStats is one interface's cumulative counters.
type InterfaceStats struct {
	Name     string  `json:"name"`
	RxBytes  *uint64 `json:"rxBytes,omitempty"`
	RxErrors *uint64 `json:"rxErrors,omitempty"`
	TxBytes  *uint64 `json:"txBytes,omitempty"`
	TxErrors *uint64 `json:"txErrors,omitempty"`
}

// KubeTime marshals like metav1.Time: RFC 3339 in UTC, whole seconds.
type KubeTime struct{ time.Time }

// MarshalJSON writes the time as metav1.Time does.
func (t KubeTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339))
}

// UnmarshalJSON reads what MarshalJSON writes.
func (t *KubeTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return err
	}
	t.Time = v.Local()
	return nil
}

func u64(v uint64) *uint64 { return &v }

// Summary builds node's /stats/summary at wall time at.
func (s *Simulator) Summary(node string, at time.Time) (Summary, error) {
	if !s.hasNode(node) {
		return Summary{}, fmt.Errorf("no node %q", node)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.summaryLocked(node, at), nil
}

// summaryLocked builds the summary; s.mu must be held, since it advances the served counters.
func (s *Simulator) summaryLocked(node string, at time.Time) Summary {
	t := s.simTime(at)
	step := int64(math.Floor(t))
	stamp := KubeTime{at.Truncate(time.Second)}
	sum := Summary{Pods: []PodStats{}}

	var nodeRx, nodeTx uint64
	var nodeCPU, nodeCPUTotal, nodeMem float64
	for _, p := range s.podsOn(node) {
		tot := p.traffic.totalsAt(&p.served, t, p.effects)
		// The node's interface saw all of it, restarts or not.
		nodeRx += tot.lifetimeRx
		nodeTx += tot.lifetimeTx
		rxs, txs := interfaceCounters(p.interfaces, tot.rx, tot.tx)
		net := &NetworkStats{Time: stamp}
		for i, in := range p.interfaces {
			net.Interfaces = append(net.Interfaces, InterfaceStats{Name: in.Name, RxBytes: u64(rxs[i]), RxErrors: u64(0), TxBytes: u64(txs[i]), TxErrors: u64(0)})
		}
		net.InterfaceStats = net.Interfaces[0]

		cstart, _ := s.containerStart(p, step)
		ps := PodStats{
			PodRef:    PodReference{Name: p.name, Namespace: p.namespace, UID: p.uid},
			StartTime: KubeTime{p.startTime},
			Network:   net,
		}
		var podCores, podCoreSeconds, podMem float64
		for ci, cname := range p.containers {
			// The first container does most of the work, sidecars a little.
			share := 1.0
			if ci > 0 {
				share = 0.2
			}
			cores := share * p.cpuMillis / 1000 * (1 + 0.3*bell(noiseHash(s.seed, p.traffic.subject, step, streamCPU+uint64(ci)<<8)))
			coreSeconds := share * p.cpuMillis / 1000 * at.Sub(cstart).Seconds()
			mem := share * p.memBytes * (1 + 0.05*bell(noiseHash(s.seed, p.traffic.subject, step, streamMemory+uint64(ci)<<8)))
			podCores += cores
			podCoreSeconds += coreSeconds
			podMem += mem
			ps.Containers = append(ps.Containers, ContainerStats{
				Name:      cname,
				StartTime: KubeTime{cstart},
				CPU:       cpuStats(stamp, cores, coreSeconds),
				Memory:    memoryStats(stamp, mem),
			})
		}
		ps.CPU = cpuStats(stamp, podCores, podCoreSeconds)
		ps.Memory = memoryStats(stamp, podMem)
		nodeCPU += podCores
		nodeCPUTotal += podCoreSeconds
		nodeMem += podMem
		sum.Pods = append(sum.Pods, ps)
	}

	nodeUptime := time.Duration(7*86400+noiseHash(s.seed, stringHash("node", s.cluster, node), 0, streamNodeUptime)%(7*86400)) * time.Second
	nodeStart := s.start.Add(-time.Duration(s.offset) * time.Second).Add(-nodeUptime).Truncate(time.Second)
	// The node's own usage on top of its pods': system daemons and the kernel.
	nodeCPU += 0.15
	nodeCPUTotal += 0.15 * at.Sub(nodeStart).Seconds()
	nodeMem += 900 << 20
	sum.Node = NodeStats{
		NodeName:  node,
		StartTime: KubeTime{nodeStart},
		CPU:       cpuStats(stamp, nodeCPU, nodeCPUTotal),
		Memory:    memoryStats(stamp, nodeMem),
		Network: &NetworkStats{
			Time:           stamp,
			InterfaceStats: InterfaceStats{Name: "eth0", RxBytes: u64(nodeRx), RxErrors: u64(0), TxBytes: u64(nodeTx), TxErrors: u64(0)},
			Interfaces:     []InterfaceStats{{Name: "eth0", RxBytes: u64(nodeRx), RxErrors: u64(0), TxBytes: u64(nodeTx), TxErrors: u64(0)}},
		},
	}
	return sum
}

// containerStart is when p's containers last started as of step, and how many simulated
// restarts there were: the latest restart, else the start before the simulation.
func (s *Simulator) containerStart(p *simPod, step int64) (time.Time, int) {
	r, n := p.effects.lastRestart(step)
	if n == 0 {
		return p.containerStart, 0
	}
	return s.start.Add(time.Duration(r) * time.Second).Truncate(time.Second), n
}

func cpuStats(stamp KubeTime, cores, coreSeconds float64) *CPUStats {
	return &CPUStats{Time: stamp, UsageNanoCores: u64(uint64(cores * 1e9)), UsageCoreNanoSeconds: u64(uint64(max(0, coreSeconds) * 1e9))}
}

func memoryStats(stamp KubeTime, ws float64) *MemoryStats {
	return &MemoryStats{
		Time:            stamp,
		UsageBytes:      u64(uint64(ws * 1.15)), // usage includes page cache the working set excludes
		WorkingSetBytes: u64(uint64(ws)),
		RSSBytes:        u64(uint64(ws * 0.9)),
		PageFaults:      u64(0),
		MajorPageFaults: u64(0),
	}
}

// PodList is a minimal core/v1 PodList, enough for the receiver's extra metadata.
type PodList struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Metadata   map[string]any `json:"metadata"`
	Items      []Pod          `json:"items"`
}

// Pod is a minimal core/v1 Pod.
type Pod struct {
	Metadata PodMeta   `json:"metadata"`
	Spec     PodSpec   `json:"spec"`
	Status   PodStatus `json:"status"`
}

// PodMeta is the pod's ObjectMeta.
type PodMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	UID               string            `json:"uid"`
	CreationTimestamp KubeTime          `json:"creationTimestamp"`
	Labels            map[string]string `json:"labels,omitempty"`
}

// PodSpec is the pod's spec.
type PodSpec struct {
	NodeName   string         `json:"nodeName"`
	Containers []PodContainer `json:"containers"`
}

// PodContainer is a container in a pod spec.
type PodContainer struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// PodStatus is the pod's status.
type PodStatus struct {
	Phase             string            `json:"phase"`
	StartTime         KubeTime          `json:"startTime"`
	ContainerStatuses []ContainerStatus `json:"containerStatuses"`
}

// ContainerStatus is one container's status.
type ContainerStatus struct {
	Name         string         `json:"name"`
	Ready        bool           `json:"ready"`
	RestartCount int            `json:"restartCount"`
	Image        string         `json:"image"`
	ContainerID  string         `json:"containerID"`
	State        ContainerState `json:"state"`
}

// ContainerState holds the running state, the only one simulated.
type ContainerState struct {
	Running *ContainerStateRunning `json:"running,omitempty"`
}

// ContainerStateRunning says since when a container runs.
type ContainerStateRunning struct {
	StartedAt KubeTime `json:"startedAt"`
}

// PodList builds node's /pods at wall time at.
func (s *Simulator) PodList(node string, at time.Time) (PodList, error) {
	if !s.hasNode(node) {
		return PodList{}, fmt.Errorf("no node %q", node)
	}
	step := int64(math.Floor(s.simTime(at)))
	list := PodList{Kind: "PodList", APIVersion: "v1", Metadata: map[string]any{}, Items: []Pod{}}
	for _, p := range s.podsOn(node) {
		cstart, restarts := s.containerStart(p, step)
		pod := Pod{
			Metadata: PodMeta{Name: p.name, Namespace: p.namespace, UID: p.uid, CreationTimestamp: KubeTime{p.startTime}, Labels: map[string]string{"app": p.service}},
			Spec:     PodSpec{NodeName: p.node},
			Status:   PodStatus{Phase: "Running", StartTime: KubeTime{p.startTime}},
		}
		for ci, cname := range p.containers {
			image := "registry.example/" + p.service + "/" + cname + ":1.0"
			pod.Spec.Containers = append(pod.Spec.Containers, PodContainer{Name: cname, Image: image})
			// A new container ID per restart, as the runtime would assign.
			id := noiseHash(s.seed, p.traffic.subject, int64(restarts), uint64(ci)+1<<32)
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, ContainerStatus{
				Name: cname, Ready: true, RestartCount: restarts, Image: image,
				ContainerID: fmt.Sprintf("containerd://%016x%016x%016x%016x", id, mix64(id), mix64(id+1), mix64(id+2)),
				State:       ContainerState{Running: &ContainerStateRunning{StartedAt: KubeTime{cstart}}},
			})
		}
		list.Items = append(list.Items, pod)
	}
	return list, nil
}
