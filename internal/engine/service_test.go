package engine

import (
	"testing"
)

// TestServiceName applies the search's `replace('k8s.pod.name', "-\w{5}$|-[abcdef0-9]{8,10}-\w{5}$", "")`.
// Every expectation was worked out by hand by trying the pattern at each '-' from the left:
// the leftmost position where either alternative matches wins, and that match is removed.
func TestServiceName(t *testing.T) {
	n, err := newServiceNamer(DefaultServicePattern)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pod, want, why string
	}{
		// Deployment: at "-7c5ddbdf54-x8f2k" alternative 2 matches (10 hex, '-', 5 word chars, end).
		// Alternative 1 would also match further right at "-x8f2k"; leftmost wins, so all of it goes.
		{"web-7c5ddbdf54-x8f2k", "web", "deployment, 10-hex pod-template-hash"},
		{"api-server-5d4f8c7b9-q2w3e", "api-server", "deployment, 9-hex hash, dash in the name"},
		{"web-12345678-abcde", "web", "deployment, all-digit 8-char hash is still hex"},
		// 11 hex chars is too long for {8,10}: only the 5-char suffix goes.
		{"x-0123456789a-abcde", "x-0123456789a", "hash longer than 10"},
		// Upper-case is not in [abcdef0-9]: only "-x8f2k" matches.
		{"web-7C5DDBDF54-x8f2k", "web-7C5DDBDF54", "upper-case hash is not hex here"},
		// DaemonSet: "-x8f2k" is '-' + 5 word chars at the end.
		{"fluentd-x8f2k", "fluentd", "daemonset"},
		{"kube-proxy-abcde", "kube-proxy", "daemonset with a dash in the name"},
		// StatefulSet ordinals are shorter than 5 word chars.
		{"web-0", "web-0", "statefulset ordinal 0"},
		{"db-12", "db-12", "statefulset ordinal 12"},
		{"kafka-12345", "kafka", "a 5-digit statefulset ordinal is 5 word chars"},
		// CronJob pod: job "backup-28473920" (minutes since epoch: 8 decimal digits = 8 hex chars) + "-abcde".
		{"backup-28473920-abcde", "backup", "cronjob pod, 8-digit job suffix"},
		{"report-284739201-x1y2z", "report", "cronjob pod, 9-digit job suffix"},
		// Plain Job pod: job name + 5 random chars.
		{"migrate-db-kx7p2", "migrate-db", "job pod"},
		// Static pods are "<name>-<node name>": the node name decides.
		{"kube-apiserver-minikube", "kube-apiserver-minikube", "static pod, 8-char node name: no match anywhere"},
		{"etcd-node1", "etcd", "static pod, node1 is exactly 5 word chars, so it is stripped"},
		{"kube-scheduler-node2", "kube-scheduler", "static pod on node2"},
		{"redis-slave", "redis", "any 5-letter last word is stripped"},
		{"redis-master", "redis-master", "6-letter last word is kept"},
		// \w includes '_' and digits.
		{"my_app-ab_c1", "my_app", "underscore in the 5-char suffix"},
		{"app2-1a2b3", "app2", "digits in the name and the suffix"},
		{"svc_1-deadbeef-a_b_c", "svc_1", "underscore in the deployment suffix"},
		// At "-abcd-12345" neither alternative matches ('-' is not \w, and 4 hex are too few);
		// at "-12345" alternative 1 does.
		{"svc-abcd-12345", "svc-abcd", "only the last segment"},
		// At "-deadbeef-cafe1-x8f2k": alternative 2 needs the end after "-cafe1", fails; at
		// "-cafe1-x8f2k" alternative 2 needs 8+ hex, fails; at "-x8f2k" alternative 1 matches.
		{"a-deadbeef-cafe1-x8f2k", "a-deadbeef-cafe1", "hash-shaped segment not followed by the end"},
		{"nodash", "nodash", "no dash at all"},
		{"-abcde", "", "the whole name is the suffix"},
	}
	for _, tc := range tests {
		if got := n.service(tc.pod); got != tc.want {
			t.Errorf("service(%q) = %q, want %q (%s)", tc.pod, got, tc.want, tc.why)
		}
	}
}

// TestServicePatternConfigured checks that the key uses the configured pattern: with "-[0-9]+$"
// the statefulset pod web-0 becomes service web, key prod:web (default pattern: prod:web-0).
func TestServicePatternConfigured(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.ServicePattern = `-[0-9]+$` })
	p := podRes{uid: "u0", name: "web-0", namespace: "default", cluster: "prod", node: "node-1"}
	h.spans(p, 5, 2, 300, 100)
	spans := h.obs.ofPod("web-0")
	if len(spans) != 1 || spans[0].key != "prod:web" {
		t.Fatalf("spans = %+v, want one span with key prod:web", spans)
	}
}

// TestKeyUsesService checks the default key "<cluster>:<service>" for a deployment pod and a
// statefulset pod (which keeps its ordinal).
func TestKeyUsesService(t *testing.T) {
	h := newHarness(t, ratioCSV)
	sts := podRes{uid: "u0", name: "web-0", namespace: "default", cluster: "prod", node: "node-1"}
	h.feed(5, traffic{webPod, 0, 0}, traffic{sts, 0, 0})
	h.feed(15, traffic{webPod, 1, 1}, traffic{sts, 1, 1})
	h.feed(25, traffic{webPod, 1, 1}, traffic{sts, 1, 1})
	keys := map[string]string{}
	for _, s := range h.obs.all() {
		keys[s.pod] = s.key
	}
	if keys["default/"+webPod.name] != "prod:web" || keys["default/web-0"] != "prod:web-0" {
		t.Fatalf("keys = %v, want %s -> prod:web and web-0 -> prod:web-0", keys, webPod.name)
	}
}
