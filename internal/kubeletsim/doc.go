// Package kubeletsim simulates the kubelet's read-only stats API of a made-up cluster for the
// demo and the end-to-end tests: the real kubeletstats receiver scrapes its pod counters.
//
// # What is served
//
// One HTTP listener per node. Each serves:
//
//   - GET /stats/summary: the kubelet Summary (k8s.io/kubelet/pkg/apis/stats/v1alpha1
//     field names) for that node's pods. This is the only endpoint the kubeletstats
//     receiver (contrib v0.145.0) requests with its default configuration and
//     `auth_type: none`.
//   - GET /pods: a minimal v1 PodList; the receiver asks for it only when
//     `extra_metadata_labels` or a *_limit/*_request utilization metric is enabled.
//   - GET /healthz: "ok".
//
// Listeners bind to consecutive ports starting at the configured one, in the order the
// nodes are listed (by default the config's order); with port 0 each node gets its own
// ephemeral port. A listener's actual address is reported (the command prints
// `listening node=<node> addr=<addr>`).
//
// # The cluster
//
// A Config names the cluster, its nodes and its services. A deployment's replicas are
// named like the ReplicaSet controller names them, `<name>-<pod-template-hash>-<suffix>`,
// where the hash is a uint32 in decimal passed through Kubernetes' SafeEncodeString (so
// 8 to 10 characters out of "bcdf456789", which is why the detection's
// `[abcdef0-9]{8,10}` matches it) and the suffix is 5 characters of the generateName
// alphabet "bcdfghjklmnpqrstvwxz2456789". A statefulset's replicas are `<name>-<ordinal>`.
// A daemonset runs one `<name>-<suffix>` pod on every node, and its "replica index" is
// the node's index. Other workloads are spread round-robin over the nodes. Names, UIDs
// and start times derive from the seed only.
//
// # The traffic model
//
// Time advances in steps of one simulated second; simulated time is wall time since the
// simulator started. In step k a pod moves
//
//	rx = inRate  * spreadIn  * common(k) * (1 + drift*wander(pod, k, "rx")) * (1 + jitter*bell(seed, pod, k, "rx"))
//	tx = outRate * spreadOut * common(k) * (1 + drift*wander(pod, k, "tx")) * (1 + jitter*bell(seed, pod, k, "tx"))
//	common(k) = (1 + wave*sin(2πk/period + phase)) * (1 + load*bell(seed, pod, k, "load"))
//
// common(k) is request load that moves both directions together (it changes volumes, not
// ratios). spreadIn and spreadOut are per-pod constants within ±replicaSpread, so replicas
// differ slightly, ratios included. bell is a bounded bell-shaped value in [-1, 1] (the
// mean of three uniforms, rescaled) drawn from a hash of seed, pod and step: per-second
// jitter. wander is a slow per-direction drift in [-1, 1], straight lines between uniform
// random knots driftPeriod seconds apart, and it carries most of a span's ratio variance.
// Within a span it acts like one bounded draw, so the per-span ratio has short tails and a
// normal pod practically never passes mean + 4 stdev, where summed per-second noise alone
// would be close to Gaussian and pass it about once in 10000 spans.
//
// Counters are cumulative bytes, as the kubelet reports them. A pod starts the
// simulation with counters worth its uptime at the mean rate; within a step the counter
// grows linearly, so it is continuous and monotonic in wall time. A pod's traffic is split
// over its interfaces by fixed shares, the same share in both directions: the first
// interface is the pod's default one (the Summary's top-level name/rxBytes/txBytes, all the
// receiver reports unless `collect_all_network_interfaces` is set), and because the
// split is the same both ways a pod's ratios are the same whether a consumer sums all
// interfaces or sees only the default one.
//
// # Patterns of real traffic, estates and days
//
// A service may add patterns measured on real traffic (patterns.go): idle slots in which
// one direction collapses, one-slot spikes of one direction, and a schedule of level
// shifts and surges; each multiplies the rates above. They are functions of estate time,
// simulated time plus (Config.Day - 1) x 86400 s, as is all noise, so day 2 of a seed
// continues day 1: a pod's counters at the start of day 2 are its counters at the end of
// day 1, and the baseline simulated before the start of day 2 is day 1's traffic.
// DefaultConfig has no patterns; MixedConfig is DefaultConfig plus ten single-replica
// services that have them (the command's --estate mixed).
//
// # Recording
//
// Record writes, without serving or sleeping, the OTLP JSON lines a collector's file
// exporter would write scraping the nodes with kubeletstats every interval, so a day of
// data for `k8snetio replay` takes seconds (the command's `record` subcommand).
//
// # Incidents
//
// An incident applies to one pod from a start time (seconds of simulated time), optionally
// until an end time, at one-second resolution (from the first whole second at or after
// the start): "exfiltration" multiplies tx by its factor, "download" multiplies rx, and
// "restart" resets the pod's counters to 0 and sets its container's start time (pod name,
// UID and pod start time stay, as when a kubelet recreates a pod's sandbox). The receiver
// takes a pod metric's start timestamp from the pod's start time, so consumers see the
// reset only as a counter that went down. Node counters include what pod resets dropped
// and never go down.
//
// # Baseline
//
// Baseline simulates many spans of normal traffic (no incidents) through the same
// counter code the server uses, in simulated time before the start (so the baseline
// and the served traffic are independent draws of the same process), and writes the
// per-key statistics of the per-pod per-span ratios in the detection's baseline CSV format.
// That is deliberately not the baseline search's per-service mean per span: the detection
// scores single pods, and only per-pod statistics bound what a normal pod does.
package kubeletsim
