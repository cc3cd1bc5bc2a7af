#!/usr/bin/env bash
# The k8s_netio_anomaly demo: a simulated two-node cluster (bin/kubeletsim), the custom collector
# scraping it and running the detection, and the collector's own splunk_hec receiver standing in for
# Splunk. Prints the anomaly events as "Splunk" receives them. `make demo` builds what it needs and
# runs this; it builds nothing itself.
#
# Environment: DEMO_SECONDS (default 180) stops the demo after that long; K8SNETIO_COLLECTOR and
# K8SNETIO_BIN point at other builds than _build/otelcol-k8snetio and bin/. Needs bash 4.3 or newer.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/examples/demo"
collector=${K8SNETIO_COLLECTOR:-$root/_build/otelcol-k8snetio}
bin=${K8SNETIO_BIN:-$root/bin}
seconds=${DEMO_SECONDS:-180}

die() {
	echo "demo: $*" >&2
	exit 1
}

[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "DEMO_SECONDS must be a whole number of seconds, got '$seconds'"
for f in "$collector" "$bin/kubeletsim" "$bin/k8snetio"; do
	[[ -x $f ]] || die "$f is missing: run 'make demo', which builds it first"
done

# Every background job gets its own process group, so that cleanup can end each one with its
# children, and a Ctrl-C reaches this script alone, which then stops them in order.
set -m
pids=()
DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/k8snetio-demo.XXXXXX")
export DEMO_DIR

cleanup() {
	local status=$? pid i
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for ((i = 0; i < 100; i++)); do # the collector flushes on TERM; give it 10 s
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	echo
	echo "Stopped. The run's files stay in $DEMO_DIR (events.jsonl, metrics.jsonl, collector.log, ...)."
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# port_is_free says nothing answers on a loopback port (a connection attempt is refused).
port_is_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port sets the variable named $1 to a loopback port that is free now and not taken yet.
taken=" "
free_port() {
	local p _
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if port_is_free "$p" && [[ $taken != *" $p "* ]]; then
			taken+="$p "
			printf -v "$1" '%s' "$p"
			return
		fi
	done
	die "found no free loopback port"
}

# healthy says the collector's health_check answers 200.
healthy() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$DEMO_HEALTH_PORT" || exit 1
		printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
		IFS= read -r status <&3 || exit 1
		[[ $status == *" 200 "* ]]
	) 2>/dev/null
}

# wait_until waits up to $1 seconds for the command that follows to succeed, as long as the
# process $2 lives.
wait_until() {
	local limit=$1 pid=$2 i
	shift 2
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

free_port DEMO_HEC_PORT
free_port DEMO_HEALTH_PORT
free_port DEMO_TELEMETRY_PORT
export DEMO_HEC_PORT DEMO_HEALTH_PORT DEMO_TELEMETRY_PORT

# The simulator writes a baseline of its normal traffic for the component's 5 s span before it
# serves, so the detection scores from the first span (no learning period), and lists its incidents.
"$bin/kubeletsim" --listen 127.0.0.1:0 --incidents "$here/incidents.json" \
	--baseline-out "$DEMO_DIR/baseline.csv" --baseline-span 5s \
	--scenario-out "$DEMO_DIR/scenario.json" \
	>"$DEMO_DIR/kubeletsim.out" 2>"$DEMO_DIR/kubeletsim.log" &
pids+=($!)
sim_listening() { [[ $(grep -c '^listening ' "$DEMO_DIR/kubeletsim.out") -ge 2 ]]; }
wait_until 30 "${pids[0]}" sim_listening ||
	die "the simulator did not start; see $DEMO_DIR/kubeletsim.log: $(tail -n 3 "$DEMO_DIR/kubeletsim.log")"
node_addr() { sed -n "s/^listening node=$1 addr=//p" "$DEMO_DIR/kubeletsim.out"; }
DEMO_NODE1_ADDR=$(node_addr sim-node-1)
DEMO_NODE2_ADDR=$(node_addr sim-node-2)
export DEMO_NODE1_ADDR DEMO_NODE2_ADDR

"$collector" --config "$here/collector.yaml" >"$DEMO_DIR/collector.log" 2>&1 &
pids+=($!)
wait_until 60 "${pids[1]}" healthy ||
	die "the collector did not become healthy; see $DEMO_DIR/collector.log:
$(grep -iE 'error|fail' "$DEMO_DIR/collector.log" | tail -n 5)"

cat <<EOF
k8s_netio_anomaly demo
======================
A simulated Kubernetes cluster "sim-cluster" (nodes sim-node-1 at $DEMO_NODE1_ADDR and
sim-node-2 at $DEMO_NODE2_ADDR, 15 pods) serves kubelet stats. The collector scrapes both nodes
every 2 s with the kubeletstats receiver, scores every pod's inbound/outbound ratios per 5 s span
against the baseline, counts anomalous spans per pod in 1-minute windows, and sends an event for
each pod with more than 5 in a window through the splunk_hec exporter (gzip) to its own
splunk_hec receiver on 127.0.0.1:$DEMO_HEC_PORT, which stands in for Splunk.

About 20 s after the start, the simulator scripts (examples/demo/incidents.json):
EOF
if command -v jq >/dev/null; then
	jq -r '.incidents[] | "  - \(.kind) on pod \(.namespace)/\(.pod) (node \(.node))"' "$DEMO_DIR/scenario.json"
else
	echo "  (install jq to see the pod names here; they are in $DEMO_DIR/scenario.json)"
fi
cat <<EOF
The exfiltration (8x outbound) and the tool download (10x inbound) must raise events; the
restart (counters back to 0) must not, nor must any other pod. The first events arrive when
the first 1-minute window with more than 5 anomalous spans closes: 1 to 2 minutes in.

Files in $DEMO_DIR:
  events.jsonl     what the HEC receiver got (the file exporter's OTLP JSON), shown below with
                   'tail -F -n +1 events.jsonl | k8snetio events -'
  metrics.jsonl    the scraped metrics; the same events come out of a back-test afterwards:
                   DEMO_DIR=$DEMO_DIR bin/k8snetio replay --config examples/demo/collector.yaml \\
                     $DEMO_DIR/metrics.jsonl
  baseline.csv     the baseline the detection scores against
  collector.log    the collector's log; its own metrics: http://127.0.0.1:$DEMO_TELEMETRY_PORT/metrics (otelcol_k8s_netio_anomaly_*)
  scenario.json    the simulated pods and incidents

Stops after $seconds s (DEMO_SECONDS) or on Ctrl-C. Waiting for events...

EOF

# viewer prints the events as they arrive: tail -F reads events.jsonl from its first line and on
# through a rotation or truncation. Stopped with the demo, it ends without a "Terminated" line.
viewer() {
	trap 'exit 0' TERM
	tail -F -n +1 "$DEMO_DIR/events.jsonl" | "$bin/k8snetio" events - &
	wait "$!"
}
viewer &
pids+=($!)
sleep "$seconds" &
pids+=($!)
# Whichever ends first: the time limit, or the simulator, the collector or the viewer by failing.
status=0
wait -n || status=$?
if ! kill -0 "${pids[0]}" 2>/dev/null || ! kill -0 "${pids[1]}" 2>/dev/null; then
	die "the simulator or the collector stopped unexpectedly; see $DEMO_DIR/kubeletsim.log and collector.log"
fi
exit "$status"
