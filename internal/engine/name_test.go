package engine

import (
	"reflect"
	"strings"
	"testing"
)

// TestInvalidNamesDropped: names that are not of the forms Kubernetes allows never reach a key,
// a learned file or an event: CR/LF, a spreadsheet formula, upper case in a pod name, an overlong
// name, a NUL, a formula as cluster name.
func TestInvalidNamesDropped(t *testing.T) {
	for name, p := range map[string]podRes{
		"pod with CR LF":       {uid: "u1", name: "x\r\ny", namespace: "default", cluster: "prod", node: "node-1"},
		"pod formula":          {uid: "u2", name: "=HYPERLINK(\"http://x\")", namespace: "default", cluster: "prod", node: "node-1"},
		"pod upper case":       {uid: "u3", name: "Web-1", namespace: "default", cluster: "prod", node: "node-1"},
		"pod too long":         {uid: "u4", name: strings.Repeat("a", 254), namespace: "default", cluster: "prod", node: "node-1"},
		"namespace with dot":   {uid: "u5", name: "web-1", namespace: "a.b", cluster: "prod", node: "node-1"},
		"namespace NUL":        {uid: "u6", name: "web-1", namespace: "a\x00", cluster: "prod", node: "node-1"},
		"cluster formula":      {uid: "u7", name: "web-1", namespace: "default", cluster: "=1+1", node: "node-1"},
		"cluster with comma":   {uid: "u8", name: "web-1", namespace: "default", cluster: "a,b", node: "node-1"},
		"node with space":      {uid: "u9", name: "web-1", namespace: "default", cluster: "prod", node: "node 1"},
		"uid with newline":     {uid: "u\n", name: "web-1", namespace: "default", cluster: "prod", node: "node-1"},
		"uid too long":         {uid: strings.Repeat("f", 65), name: "web-1", namespace: "default", cluster: "prod", node: "node-1"},
		"pod ending with dash": {uid: "u10", name: "web-", namespace: "default", cluster: "prod", node: "node-1"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, ratioCSV)
			h.spans(p, 5, 2, 300, 100)
			if d := h.drops(); !reflect.DeepEqual(d, map[string]int64{"invalid_name": 6}) {
				t.Errorf("dropped %v, want invalid_name 6", d)
			}
			if n := h.e.pods.len(); n != 0 {
				t.Errorf("%d pods tracked, want 0", n)
			}
		})
	}
}

func TestValidNames(t *testing.T) {
	for _, p := range []podRes{
		{uid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", name: "web-7c5ddbdf54-x8f2k", namespace: "default", cluster: "prod-eu_1.x", node: "ip-10-0-0-1.ec2.internal"},
		{name: "kube-apiserver-minikube", namespace: "kube-system", cluster: "Minikube", node: "MINIKUBE"},
		{name: "postgres-0", cluster: "c", node: "n"}, // no namespace: the search does not need one
	} {
		h := newHarness(t, ratioCSV)
		h.spans(p, 5, 2, 300, 100)
		if d := h.drops(); len(d) != 0 {
			t.Errorf("%+v: dropped %v", p, d)
		}
	}
}
