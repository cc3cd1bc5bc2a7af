package kubeletsim

import (
	"regexp"
	"testing"
	"time"
)

func TestDetectionServiceExamples(t *testing.T) {
	for name, want := range map[string]string{
		"web-7c5ddbdf54-x8f2k":    "web",
		"fluentd-x8f2k":           "fluentd",
		"web-0":                   "web-0",
		"kube-apiserver-minikube": "kube-apiserver-minikube",
		"node-exporter-hw4dp":     "node-exporter",
		"api-66789f7f6d-gkz52":    "api",
	} {
		if got := DetectionService(name); got != want {
			t.Errorf("DetectionService(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestSafeEncodeMatchesKubernetes(t *testing.T) {
	// rand.SafeEncodeString maps each byte into the alphabet by value modulo 27.
	if got := safeEncode("1234567890"); got != "56789bcdf4" {
		t.Fatalf("safeEncode = %q", got)
	}
}

func TestPodNamesHaveKubernetesForms(t *testing.T) {
	cfg := DefaultConfig()
	sim, err := New(cfg, nil, 7, time.Unix(1_700_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	const suffix = `[bcdfghjklmnpqrstvwxz2456789]{5}`
	// A pod-template-hash is a safe-encoded decimal uint32, so only these ten characters occur.
	const templateHash = `[bcdf4-9]{8,10}`
	uid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

	names, uids := map[string]bool{}, map[string]bool{}
	daemonNodes := map[string]map[string]bool{}
	for _, p := range sim.Scenario(nil).Pods {
		var form *regexp.Regexp
		wantService := p.Service
		switch p.Kind {
		case KindDeployment:
			form = regexp.MustCompile(`^` + p.Service + `-` + templateHash + `-` + suffix + `$`)
		case KindDaemonSet:
			form = regexp.MustCompile(`^` + p.Service + `-` + suffix + `$`)
			if daemonNodes[p.Service] == nil {
				daemonNodes[p.Service] = map[string]bool{}
			}
			daemonNodes[p.Service][p.Node] = true
		case KindStatefulSet:
			form = regexp.MustCompile(`^` + p.Service + `-[0-9]+$`)
			wantService = p.Name // each replica is its own key
		}
		if !form.MatchString(p.Name) {
			t.Errorf("%s pod %q does not match %s", p.Kind, p.Name, form)
		}
		if got := DetectionService(p.Name); got != wantService || got != p.DetectionService {
			t.Errorf("pod %q: detection service %q (scenario %q), want %q", p.Name, got, p.DetectionService, wantService)
		}
		if p.Key != cfg.Cluster+":"+wantService {
			t.Errorf("pod %q: key %q", p.Name, p.Key)
		}
		if !uid.MatchString(p.UID) {
			t.Errorf("pod %q: uid %q is not a v4 UUID", p.Name, p.UID)
		}
		if names[p.Name] || uids[p.UID] {
			t.Errorf("duplicate pod name or uid: %s %s", p.Name, p.UID)
		}
		names[p.Name], uids[p.UID] = true, true
	}
	for svc, nodes := range daemonNodes {
		if len(nodes) != len(cfg.Nodes) {
			t.Errorf("daemonset %s runs on %d nodes, want %d", svc, len(nodes), len(cfg.Nodes))
		}
	}
	if len(names) != 15 {
		t.Errorf("default cluster has %d pods, want 15", len(names))
	}
}

func TestPodTemplateHashLengths(t *testing.T) {
	// Over many seeds the hash is always 8 to 10 characters, mostly 10, as in real clusters.
	lengths := map[int]int{}
	for seed := range uint64(2000) {
		lengths[len(podTemplateHash(seed, "c", "ns", "web"))]++
	}
	for l := range lengths {
		if l < 8 || l > 10 {
			t.Fatalf("hash length %d", l)
		}
	}
	if lengths[10] < lengths[9] {
		t.Errorf("length distribution %v: want mostly 10", lengths)
	}
}

func TestConfigRejectsNamesTheDetectionWouldMisread(t *testing.T) {
	cfg := Config{Cluster: "c", Nodes: []string{"n"}, Services: []ServiceConfig{
		// Its pods look like a deployment's, so the detection would call the service "web".
		{Name: "web-7c5ddbdf54", Namespace: "ns", Kind: KindDaemonSet, InBytesPerSec: 1, OutBytesPerSec: 1},
	}}
	if _, err := New(cfg, nil, 1, time.Now()); err == nil {
		t.Fatal("want an error")
	}
}
