package kubeletsim

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// jsonPaths records every field path of a JSON document and the JSON type found there;
// array elements share the path "[]".
func jsonPaths(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		if prefix != "" {
			out[prefix] = "object"
		}
		for k, e := range x {
			jsonPaths(prefix+"."+k, e, out)
		}
	case []any:
		out[prefix] = "array"
		for _, e := range x {
			jsonPaths(prefix+"[]", e, out)
		}
	case string:
		out[prefix] = "string"
	case float64:
		out[prefix] = "number"
	case bool:
		out[prefix] = "bool"
	case nil:
		out[prefix] = "null"
	}
}

func pathsOf(t *testing.T, data []byte) map[string]string {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	jsonPaths("", v, out)
	return out
}

// The receiver decodes /stats/summary into k8s.io/kubelet's stats v1alpha1 Summary, which
// this module does not depend on; instead every field served must exist, with the same
// JSON type, in a real kubelet's summary (the receiver's own test data).
func TestSummaryFieldsMatchARealKubelet(t *testing.T) {
	real, err := os.ReadFile("testdata/receiver-stats-summary.json")
	if err != nil {
		t.Fatal(err)
	}
	realPaths := pathsOf(t, real)

	sim := mustNew(t, DefaultConfig(), nil, 1)
	sum, err := sim.Summary("sim-node-1", sim.Start().Add(42*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	served, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	servedPaths := pathsOf(t, served)
	for p, typ := range servedPaths {
		if realPaths[p] != typ {
			t.Errorf("served field %s (%s) is %q in the real summary", p, typ, realPaths[p])
		}
	}
	// What the receiver needs to emit k8s.pod.network.io per pod, and pod identity.
	for _, p := range []string{
		".node.nodeName", ".pods[].podRef.name", ".pods[].podRef.namespace", ".pods[].podRef.uid",
		".pods[].startTime", ".pods[].containers[].name", ".pods[].containers[].startTime",
		".pods[].network.time", ".pods[].network.name", ".pods[].network.rxBytes", ".pods[].network.txBytes",
		".pods[].network.interfaces[].name", ".pods[].network.interfaces[].rxBytes", ".pods[].network.interfaces[].txBytes",
		".pods[].cpu.usageNanoCores", ".pods[].memory.workingSetBytes",
	} {
		if _, ok := servedPaths[p]; !ok {
			t.Errorf("served summary lacks %s", p)
		}
	}

	// Timestamps are RFC 3339 in UTC, as metav1.Time writes them.
	for _, field := range []string{`"time":"`, `"startTime":"`} {
		rest := string(served)
		for {
			i := strings.Index(rest, field)
			if i < 0 {
				break
			}
			rest = rest[i+len(field):]
			ts := rest[:strings.IndexByte(rest, '"')]
			if _, err := time.Parse(time.RFC3339, ts); err != nil || !strings.HasSuffix(ts, "Z") || strings.Contains(ts, ".") {
				t.Fatalf("timestamp %q: want RFC 3339 UTC whole seconds", ts)
			}
		}
	}

	// And the other way: the real summary decodes into these types with the values intact.
	var back Summary
	if err := json.Unmarshal(real, &back); err != nil {
		t.Fatal(err)
	}
	if back.Node.NodeName != "minikube" || len(back.Pods) == 0 {
		t.Fatalf("decoded %+v", back.Node)
	}
	p := back.Pods[0]
	if p.PodRef.Name != "kube-scheduler-minikube" || p.Network == nil || p.Network.Name != "eth0" ||
		*p.Network.RxBytes != 948305362 || *p.Network.TxBytes != 12542068 || len(p.Network.Interfaces) != 2 ||
		p.StartTime.UTC() != time.Date(2020, 4, 20, 22, 30, 0, 0, time.UTC) {
		t.Fatalf("decoded pod %+v %+v", p, p.Network)
	}
}

func TestSummaryListsTheNodesPods(t *testing.T) {
	sim := mustNew(t, DefaultConfig(), nil, 1)
	sc := sim.Scenario(nil)
	for _, node := range sim.Nodes() {
		sum, err := sim.Summary(node, sim.Start())
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, p := range sum.Pods {
			got = append(got, p.PodRef.Name)
		}
		for _, p := range sc.Pods {
			if p.Node == node {
				want = append(want, p.Name)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if sum.Node.NodeName != node || !slices.Equal(got, want) {
			t.Errorf("node %s: pods %v, want %v", node, got, want)
		}
	}
	if _, err := sim.Summary("nope", sim.Start()); err == nil {
		t.Error("unknown node: want an error")
	}
}

func TestPodListHasTheReceiversMetadataFields(t *testing.T) {
	sim := mustNew(t, DefaultConfig(), nil, 1)
	list, err := sim.PodList("sim-node-1", sim.Start())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(list)
	paths := pathsOf(t, data)
	// The fields the receiver's extra metadata reads (container.id, resources) and pod identity.
	for _, p := range []string{".items[].metadata.name", ".items[].metadata.uid", ".items[].metadata.namespace",
		".items[].spec.containers[].name", ".items[].status.containerStatuses[].name", ".items[].status.containerStatuses[].containerID"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("pod list lacks %s", p)
		}
	}
}
