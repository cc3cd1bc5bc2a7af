// Package examples holds no code: its tests keep the example configurations and manifests working.
package examples

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/k8snetio/k8snetioanomaly/connector/k8snetioanomalyconnector"
	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor"
)

// testBaseline stands in for /etc/k8snetio/baseline.csv: the collector loads the baseline when it
// builds the pipelines, which `validate` does.
const testBaseline = "testdata/baseline.csv"

// collectorConfig is one example config for `otelcol validate`.
type collectorConfig struct {
	file string
	// env holds a plausible value for every variable the file references; the test fails when
	// the file references one that is missing here, since the collector would substitute "".
	env map[string]string
	// overrides replace values that only work inside a cluster (as yaml: configs merged over the
	// file); each key must exist in the file, so an override cannot hide a renamed component.
	overrides map[string]string
}

func TestCollectorConfigsValidate(t *testing.T) {
	collector := os.Getenv("K8SNETIO_COLLECTOR")
	if collector == "" {
		t.Skip("K8SNETIO_COLLECTOR is not set (make test sets it to the ocb-built collector)")
	}
	demoDir := t.TempDir()
	copyFile(t, testBaseline, filepath.Join(demoDir, "baseline.csv"))
	agentEnv := map[string]string{
		"K8S_NODE_NAME":    "node-a",
		"K8S_POD_IP":       "127.0.0.1",
		"K8S_CLUSTER_NAME": "prod",
		"SPLUNK_HEC_URL":   "https://splunk.example.com:8088/services/collector",
		"SPLUNK_HEC_TOKEN": "00000000-0000-0000-0000-000000000000",
		"OTLP_ENDPOINT":    "gateway.example.com:4317",
	}
	for _, c := range []collectorConfig{
		{
			file: "agent.yaml",
			env:  agentEnv,
			overrides: map[string]string{
				"processors::k8s_netio_anomaly::baseline::path": absTestBaseline(t),
				"extensions::file_storage::directory":           t.TempDir(),
				// auth_type serviceAccount reads the pod's token and CA when the receiver is built.
				"receivers::kubeletstats::auth_type": "none",
				"receivers::kubeletstats::endpoint":  "http://127.0.0.1:10255",
			},
		},
		{
			file: "gateway.yaml",
			env: map[string]string{
				"K8S_POD_IP":       "127.0.0.1",
				"SPLUNK_HEC_URL":   "https://splunk.example.com:8088/services/collector",
				"SPLUNK_HEC_TOKEN": "00000000-0000-0000-0000-000000000000",
				"OTLP_BACKEND":     "backend.example.com:4317",
			},
			overrides: map[string]string{
				"connectors::k8s_netio_anomaly::baseline::path": absTestBaseline(t),
				"extensions::file_storage::directory":           t.TempDir(),
			},
		},
		{
			file: "scaleout/agent.yaml",
			env: map[string]string{
				"K8S_NODE_NAME":    "node-a",
				"K8S_POD_IP":       "127.0.0.1",
				"K8S_CLUSTER_NAME": "prod",
				"GATEWAY_SERVICE":  "otelcol-k8snetio-gateway.otel",
			},
			overrides: map[string]string{
				"receivers::kubeletstats::auth_type": "none",
				"receivers::kubeletstats::endpoint":  "http://127.0.0.1:10255",
				// The k8s resolver needs the in-cluster API when the exporter is built: the same
				// exporter with a static ring (TestScaleOutAgent checks the k8s resolver's settings).
				"exporters::loadbalancing::resolver": `{k8s: null, static: {hostnames: ["127.0.0.1:4317"]}}`,
			},
		},
		{
			file: "scaleout/gateway.yaml",
			env: map[string]string{
				"K8S_POD_IP":       "127.0.0.1",
				"SPLUNK_HEC_URL":   "https://splunk.example.com:8088/services/collector",
				"SPLUNK_HEC_TOKEN": "00000000-0000-0000-0000-000000000000",
			},
			overrides: map[string]string{
				"connectors::k8s_netio_anomaly::baseline::path": absTestBaseline(t),
				"extensions::file_storage::directory":           t.TempDir(),
			},
		},
		{
			file: "demo/collector.yaml",
			env: map[string]string{
				"DEMO_DIR":            demoDir,
				"DEMO_NODE1_ADDR":     "127.0.0.1:10255",
				"DEMO_NODE2_ADDR":     "127.0.0.1:10256",
				"DEMO_HEC_PORT":       "18088",
				"DEMO_HEALTH_PORT":    "13133",
				"DEMO_TELEMETRY_PORT": "18888",
			},
		},
	} {
		t.Run(c.file, func(t *testing.T) { validateWithCollector(t, collector, c) })
	}
}

// envRef matches ${env:NAME} and the collector's bare ${NAME}.
var envRef = regexp.MustCompile(`\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}`)

func validateWithCollector(t *testing.T, collector string, c collectorConfig) {
	data, err := os.ReadFile(c.file)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range envRef.FindAllStringSubmatch(string(data), -1) {
		if _, ok := c.env[m[1]]; !ok {
			t.Errorf("%s references ${env:%s}, which the test does not set", c.file, m[1])
		}
	}
	conf := loadYAML(t, c.file)
	args := []string{"validate", "--config", c.file}
	for key, value := range c.overrides {
		if !conf.IsSet(key) {
			t.Errorf("%s has no %s to override", c.file, key)
		}
		args = append(args, "--config", "yaml:"+key+": "+value)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, collector, args...)
	cmd.Env = os.Environ()
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", collector, strings.Join(args, " "), err, out)
	}
}

// TestHelmValues checks what can be checked of helm/values.yaml without the chart: the chart's own
// default agent config is rendered by Helm and is not available here, so agent.config is validated
// merged over what it relies on of it (testdata/chart-agent-part.yaml); the component's section is
// decoded and validated by the connector's factory, and the pipelines, volumes and ConfigMap are
// checked to fit together. The chart's agent takes OTLP from every pod on its node, so what
// matters most is that nothing but kubeletstats feeds the component.
func TestHelmValues(t *testing.T) {
	values := loadYAML(t, "helm/values.yaml")
	agent, err := values.Sub("agent::config")
	if err != nil {
		t.Fatal(err)
	}
	section, err := agent.Sub("connectors::k8s_netio_anomaly")
	if err != nil {
		t.Fatal(err)
	}
	baselinePath := validateComponent(t, "helm/values.yaml", section, k8snetioanomalyconnector.NewFactory().CreateDefaultConfig())
	if agent.IsSet("processors::k8s_netio_anomaly") {
		t.Errorf("helm/values.yaml: the processor is configured; the chart's pipelines it could join take OTLP from any pod")
	}

	// What feeds the connector: TestAgentsFeedOnlyKubeletstats.
	feeds := false
	for name, p := range agent.Get("service::pipelines").(map[string]any) {
		p, _ := p.(map[string]any)
		procs, _ := p["processors"].([]any)
		exporters, _ := p["exporters"].([]any)
		receivers, _ := p["receivers"].([]any)
		if slices.Contains(procs, any("k8s_netio_anomaly")) {
			t.Errorf("helm/values.yaml: pipeline %s lists the processor k8s_netio_anomaly", name)
		}
		if strings.HasPrefix(name, "logs") && slices.Contains(receivers, any("k8s_netio_anomaly")) &&
			slices.Contains(exporters, any("splunk_hec/platform_logs")) {
			feeds = true
		}
	}
	if !feeds {
		t.Errorf("helm/values.yaml: no logs pipeline in agent.config takes the events from k8s_netio_anomaly to splunk_hec/platform_logs")
	}
	mounts, _ := values.Get("agent::extraVolumeMounts").([]any)
	volumes, _ := values.Get("agent::extraVolumes").([]any)
	checkBaselineMount(t, "helm/values.yaml", baselinePath, mounts, volumes, values.Get("clusterName"))

	// agent.config merged over what it relies on of the chart's rendered config, as Helm merges it
	// (maps merge, lists are replaced), validated by the built collector.
	collector := os.Getenv("K8SNETIO_COLLECTOR")
	if collector == "" {
		t.Skip("K8SNETIO_COLLECTOR is not set (make test sets it to the ocb-built collector)")
	}
	merged := loadYAML(t, "testdata/chart-agent-part.yaml")
	if err := merged.Merge(agent); err != nil {
		t.Fatal(err)
	}
	validateRendered(t, collector, merged.ToStringMap(), collectorConfig{
		env: map[string]string{
			"K8S_NODE_IP":               "127.0.0.1",
			"K8S_NODE_NAME":             "node-a",
			"SPLUNK_MEMORY_LIMIT_MIB":   "450",
			"SPLUNK_PLATFORM_HEC_TOKEN": "00000000-0000-0000-0000-000000000000",
		},
		overrides: map[string]string{
			"connectors::k8s_netio_anomaly::baseline::path": absTestBaseline(t),
			// auth_type serviceAccount reads the pod's token and CA when the receiver is built.
			"receivers::kubeletstats::auth_type": "none",
			"receivers::kubeletstats::endpoint":  "http://127.0.0.1:10255",
		},
	})
}

// TestAgentDaemonSet checks that k8s/agent-daemonset.yaml gives agent.yaml what it needs.
func TestAgentDaemonSet(t *testing.T) {
	agent := loadYAML(t, "agent.yaml")
	section, err := agent.Sub("processors::k8s_netio_anomaly")
	if err != nil {
		t.Fatal(err)
	}
	baselinePath := validateComponent(t, "agent.yaml", section, k8snetioanomalyprocessor.NewFactory().CreateDefaultConfig())

	ds := loadYAML(t, "k8s/agent-daemonset.yaml")
	containers, _ := ds.Get("spec::template::spec::containers").([]any)
	if len(containers) != 1 {
		t.Fatalf("k8s/agent-daemonset.yaml: want one container, got %d", len(containers))
	}
	container := containers[0].(map[string]any)
	env := map[string]any{}
	for _, e := range container["env"].([]any) {
		e := e.(map[string]any)
		env[e["name"].(string)] = e["value"] // nil for valueFrom
	}
	data, err := os.ReadFile("agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range envRef.FindAllStringSubmatch(string(data), -1) {
		if _, ok := env[m[1]]; !ok {
			t.Errorf("agent.yaml references ${env:%s}, which k8s/agent-daemonset.yaml does not set", m[1])
		}
	}
	mounts, _ := container["volumeMounts"].([]any)
	volumes, _ := ds.Get("spec::template::spec::volumes").([]any)
	checkBaselineMount(t, "k8s/agent-daemonset.yaml", baselinePath, mounts, volumes, env["K8S_CLUSTER_NAME"])

	if dir := agent.Get("extensions::file_storage::directory"); !slices.ContainsFunc(mounts, func(m any) bool {
		return m.(map[string]any)["mountPath"] == dir
	}) {
		t.Errorf("k8s/agent-daemonset.yaml mounts no volume at file_storage's directory %v", dir)
	}
	if sa := ds.Get("spec::template::spec::serviceAccountName"); sa != loadYAMLDocs(t, "k8s/rbac.yaml")[0].Get("metadata::name") {
		t.Errorf("k8s/agent-daemonset.yaml runs as %v, not as the ServiceAccount of k8s/rbac.yaml", sa)
	}
}

// validateComponent decodes a k8s_netio_anomaly section as the collector would (unknown keys are
// errors), validates it, and returns its baseline path.
func validateComponent(t *testing.T, file string, section *confmap.Conf, cfg component.Config) string {
	t.Helper()
	if err := section.Unmarshal(cfg); err != nil {
		t.Fatalf("%s: k8s_netio_anomaly: %v", file, err)
	}
	if err := xconfmap.Validate(cfg); err != nil {
		t.Fatalf("%s: k8s_netio_anomaly: %v", file, err)
	}
	p, _ := section.Get("baseline::path").(string)
	return p
}

// checkBaselineMount checks that the baseline path lies in a mounted volume of the ConfigMap of
// k8s/baseline-configmap.yaml, that the ConfigMap has the file, that it parses, and that its keys
// belong to the cluster the deployment names.
func checkBaselineMount(t *testing.T, file, baselinePath string, mounts, volumes []any, cluster any) {
	t.Helper()
	cm := loadYAMLDocs(t, "k8s/baseline-configmap.yaml")[0]
	var volume string
	for _, m := range mounts {
		m := m.(map[string]any)
		if m["mountPath"] == path.Dir(baselinePath) {
			if _, ok := m["subPath"]; ok {
				t.Errorf("%s: the baseline is mounted with subPath, so ConfigMap updates never reach it", file)
			}
			volume, _ = m["name"].(string)
		}
	}
	if volume == "" {
		t.Fatalf("%s: no volume mounted at %s, the directory of the baseline %s", file, path.Dir(baselinePath), baselinePath)
	}
	for _, v := range volumes {
		v := v.(map[string]any)
		if v["name"] != volume {
			continue
		}
		if name := v["configMap"].(map[string]any)["name"]; name != cm.Get("metadata::name") {
			t.Errorf("%s: volume %s is ConfigMap %v, not the %v of k8s/baseline-configmap.yaml", file, volume, name, cm.Get("metadata::name"))
		}
	}
	csv, ok := cm.Get("data::" + path.Base(baselinePath)).(string)
	if !ok {
		t.Fatalf("k8s/baseline-configmap.yaml has no data key %s", path.Base(baselinePath))
	}
	b, err := baseline.Parse(strings.NewReader(csv), "k8s/baseline-configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(csv), "\n")[1:] {
		key, _, _ := strings.Cut(line, ",")
		if _, ok := b.Lookup(key); !ok || !strings.HasPrefix(key, cluster.(string)+":") {
			t.Errorf("k8s/baseline-configmap.yaml: key %q is not a key of cluster %v, which %s names", key, cluster, file)
		}
	}
}

func loadYAML(t *testing.T, file string) *confmap.Conf {
	t.Helper()
	return loadYAMLDocs(t, file)[0]
}

// loadYAMLDocs reads the documents of a multi-document YAML file.
func loadYAMLDocs(t *testing.T, file string) []*confmap.Conf {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var docs []*confmap.Conf
	for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		r, err := confmap.NewRetrievedFromYAML([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		conf, err := r.AsConf()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		docs = append(docs, conf)
	}
	return docs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScaleOutAgent checks what validation cannot (its k8s resolver is replaced by a static one):
// the agent routes by resource over the gateways' headless Service, and the gateway keeps its state
// and HEC queue in storage.
func TestScaleOutAgent(t *testing.T) {
	agent := loadYAML(t, "scaleout/agent.yaml")
	if got := agent.Get("exporters::loadbalancing::routing_key"); got != "resource" {
		t.Errorf("routing_key %v, want resource (one pod to one gateway)", got)
	}
	if got := agent.Get("exporters::loadbalancing::resolver::k8s::service"); got != "${env:GATEWAY_SERVICE}" {
		t.Errorf("k8s resolver service %v", got)
	}
	if got := agent.Get("exporters::loadbalancing::resolver::k8s::return_hostnames"); got != true {
		t.Errorf("k8s resolver return_hostnames %v, want true (stable ring members across gateway restarts)", got)
	}
	docs := loadYAMLDocs(t, "k8s/gateway-statefulset.yaml")
	svc, sts := docs[0], docs[1]
	if svc.Get("spec::clusterIP") != "None" || sts.Get("spec::serviceName") != svc.Get("metadata::name") {
		t.Errorf("k8s/gateway-statefulset.yaml: the StatefulSet's serviceName %v is not the headless Service %v",
			sts.Get("spec::serviceName"), svc.Get("metadata::name"))
	}
	if want := fmt.Sprintf("%v.%v", svc.Get("metadata::name"), svc.Get("metadata::namespace")); want != "otelcol-k8snetio-gateway.otel" {
		t.Errorf("the agent's GATEWAY_SERVICE example is otelcol-k8snetio-gateway.otel, the Service is %s", want)
	}
	gateway := loadYAML(t, "scaleout/gateway.yaml")
	if got := gateway.Get("connectors::k8s_netio_anomaly::storage"); got != "file_storage" {
		t.Errorf("connector storage %v, want file_storage", got)
	}
	if got := gateway.Get("exporters::splunk_hec::sending_queue::storage"); got != "file_storage" {
		t.Errorf("splunk_hec queue storage %v, want file_storage", got)
	}
}

// TestAgentsFeedOnlyKubeletstats: the agents' pipelines that reach the detection (the processor
// in agent.yaml, the connector in helm/values.yaml, the gateways through the loadbalancing
// exporter in scaleout/agent.yaml) take only kubeletstats' metrics, never a receiver that a pod
// could send to (the splunk-otel-collector chart's agent takes OTLP from every pod on its node).
func TestAgentsFeedOnlyKubeletstats(t *testing.T) {
	for _, c := range []struct{ file, config, component, role string }{
		{"agent.yaml", "", "k8s_netio_anomaly", "processors"},
		{"helm/values.yaml", "agent::config", "k8s_netio_anomaly", "exporters"},
		{"scaleout/agent.yaml", "", "loadbalancing", "exporters"},
	} {
		conf := loadYAML(t, c.file)
		if c.config != "" {
			var err error
			if conf, err = conf.Sub(c.config); err != nil {
				t.Fatal(err)
			}
		}
		found := false
		for name, p := range conf.Get("service::pipelines").(map[string]any) {
			p, _ := p.(map[string]any)
			listed, _ := p[c.role].([]any)
			if !strings.HasPrefix(name, "metrics") || !slices.Contains(listed, any(c.component)) {
				continue
			}
			found = true
			if receivers, _ := p["receivers"].([]any); !slices.Equal(receivers, []any{"kubeletstats"}) {
				t.Errorf("%s: pipeline %s feeds %s from %v; only kubeletstats may", c.file, name, c.component, receivers)
			}
		}
		if !found {
			t.Errorf("%s: no metrics pipeline lists %s in its %s", c.file, c.component, c.role)
		}
	}
}

// TestGatewayNetworkPolicy: only the agents reach the gateways. The policy of
// k8s/gateway-statefulset.yaml selects the gateway pods, admits only pods that carry the agent
// DaemonSet's labels (no namespace or address rule that would admit more), and opens only the
// port the gateway's OTLP receiver listens on; the Helm gateway values do the same with the
// chart's policy, which opens every enabled port.
func TestGatewayNetworkPolicy(t *testing.T) {
	docs := loadYAMLDocs(t, "k8s/gateway-statefulset.yaml")
	var policy, sts, svc *confmap.Conf
	for _, d := range docs {
		switch d.Get("kind") {
		case "NetworkPolicy":
			policy = d
		case "StatefulSet":
			sts = d
		case "Service":
			svc = d
		}
	}
	if policy == nil || sts == nil || svc == nil {
		t.Fatal("k8s/gateway-statefulset.yaml: want a Service, a StatefulSet and a NetworkPolicy")
	}
	agentLabels := mapOf(loadYAML(t, "k8s/agent-daemonset.yaml").Get("spec::template::metadata::labels"))
	if !selects(mapOf(policy.Get("spec::podSelector::matchLabels")), mapOf(sts.Get("spec::template::metadata::labels"))) {
		t.Errorf("the NetworkPolicy's podSelector %v does not select the gateway pods", policy.Get("spec::podSelector"))
	}
	if types, _ := policy.Get("spec::policyTypes").([]any); !slices.Contains(types, any("Ingress")) {
		t.Errorf("the NetworkPolicy's policyTypes %v do not restrict ingress", types)
	}
	rules, _ := policy.Get("spec::ingress").([]any)
	if len(rules) != 1 {
		t.Fatalf("the NetworkPolicy has %d ingress rules, want 1 (the agents to OTLP)", len(rules))
	}
	rule := rules[0].(map[string]any)
	checkPeers(t, "k8s/gateway-statefulset.yaml", rule["from"], agentLabels)

	// The port: the one the gateway's OTLP receiver listens on, which the Service exposes.
	endpoint, _ := loadYAML(t, "scaleout/gateway.yaml").Get("receivers::otlp::protocols::grpc::endpoint").(string)
	otlpPort, err := strconv.Atoi(endpoint[strings.LastIndex(endpoint, ":")+1:])
	if err != nil {
		t.Fatalf("scaleout/gateway.yaml: otlp endpoint %q has no port", endpoint)
	}
	ports, _ := rule["ports"].([]any)
	if len(ports) != 1 || fmt.Sprint(ports[0].(map[string]any)["port"]) != strconv.Itoa(otlpPort) {
		t.Errorf("the NetworkPolicy opens ports %v, want only the OTLP receiver's %d", ports, otlpPort)
	}
	if svcPorts, _ := svc.Get("spec::ports").([]any); len(svcPorts) != 1 || fmt.Sprint(svcPorts[0].(map[string]any)["port"]) != strconv.Itoa(otlpPort) {
		t.Errorf("the Service exposes %v, want the OTLP receiver's port %d", svcPorts, otlpPort)
	}

	values := loadYAML(t, "helm/gateway-values.yaml")
	if values.Get("networkPolicy::enabled") != true {
		t.Errorf("helm/gateway-values.yaml: networkPolicy.enabled is %v, want true", values.Get("networkPolicy::enabled"))
	}
	checkPeers(t, "helm/gateway-values.yaml", values.Get("networkPolicy::allowIngressFrom"), agentLabels)
	for name, port := range values.Get("ports").(map[string]any) {
		if enabled := port.(map[string]any)["enabled"]; enabled != false && name != "otlp" {
			t.Errorf("helm/gateway-values.yaml: port %s is enabled (%v); the chart's policy would open it to the agents too", name, enabled)
		}
	}
}

// checkPeers checks a NetworkPolicy's `from` list: present, only pod selectors, each selecting the
// agent's pods.
func checkPeers(t *testing.T, file string, from any, agentLabels map[string]any) {
	t.Helper()
	peers, _ := from.([]any)
	if len(peers) == 0 {
		t.Errorf("%s: the policy admits every source (no `from`)", file)
	}
	for _, p := range peers {
		p, _ := p.(map[string]any)
		if len(p) != 1 || p["podSelector"] == nil {
			t.Errorf("%s: the policy admits %v; want pod selectors of the agents only", file, p)
			continue
		}
		if !selects(mapOf(p["podSelector"].(map[string]any)["matchLabels"]), agentLabels) {
			t.Errorf("%s: the policy admits pods %v, which are not the agent DaemonSet's %v", file, p["podSelector"], agentLabels)
		}
	}
}

// selects says whether matchLabels, not empty, selects a pod with these labels.
func selects(matchLabels, labels map[string]any) bool {
	if len(matchLabels) == 0 {
		return false // an empty selector selects every pod
	}
	for k, v := range matchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// TestHelmGatewayValues validates the gateway's config in helm/gateway-values.yaml with the built
// collector, as the chart would render it from these values (keys set to null removed: Helm drops
// them from the chart's defaults; the chart's other defaults are not available here), and checks
// that the baseline and the storage directory are mounted.
func TestHelmGatewayValues(t *testing.T) {
	values := loadYAML(t, "helm/gateway-values.yaml")
	if values.Get("mode") != "statefulset" {
		t.Errorf("helm/gateway-values.yaml: mode %v, want statefulset", values.Get("mode"))
	}
	cfg, err := values.Sub("config")
	if err != nil {
		t.Fatal(err)
	}
	section, err := cfg.Sub("connectors::k8s_netio_anomaly")
	if err != nil {
		t.Fatal(err)
	}
	baselinePath := validateComponent(t, "helm/gateway-values.yaml", section, k8snetioanomalyconnector.NewFactory().CreateDefaultConfig())
	mounts, _ := values.Get("extraVolumeMounts").([]any)
	volumes, _ := values.Get("extraVolumes").([]any)
	checkBaselineMount(t, "helm/gateway-values.yaml", baselinePath, mounts, volumes, "prod")
	storageDir := cfg.Get("extensions::file_storage::directory")
	if !slices.ContainsFunc(mounts, func(m any) bool { return m.(map[string]any)["mountPath"] == storageDir }) {
		t.Errorf("helm/gateway-values.yaml mounts no volume at file_storage's directory %v", storageDir)
	}

	collector := os.Getenv("K8SNETIO_COLLECTOR")
	if collector == "" {
		t.Skip("K8SNETIO_COLLECTOR is not set (make test sets it to the ocb-built collector)")
	}
	validateRendered(t, collector, dropNulls(cfg.ToStringMap()), collectorConfig{
		env: map[string]string{
			"MY_POD_IP":        "127.0.0.1",
			"SPLUNK_HEC_URL":   "https://splunk.example.com:8088/services/collector",
			"SPLUNK_HEC_TOKEN": "00000000-0000-0000-0000-000000000000",
		},
		overrides: map[string]string{
			"connectors::k8s_netio_anomaly::baseline::path": absTestBaseline(t),
			"extensions::file_storage::directory":           t.TempDir(),
		},
	})
}

// validateRendered validates a config that a chart would render (written to a file as JSON,
// which is YAML) with the built collector, with c's environment and overrides.
func validateRendered(t *testing.T, collector string, rendered map[string]any, c collectorConfig) {
	t.Helper()
	data, err := json.Marshal(rendered)
	if err != nil {
		t.Fatal(err)
	}
	c.file = filepath.Join(t.TempDir(), "rendered-config.yaml")
	if err := os.WriteFile(c.file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	validateWithCollector(t, collector, c)
}

func absTestBaseline(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs(testBaseline)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// dropNulls removes the keys whose value is null, at every level, as Helm does when it merges values
// over a chart's defaults.
func dropNulls(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch v := v.(type) {
		case nil:
		case map[string]any:
			out[k] = dropNulls(v)
		default:
			out[k] = v
		}
	}
	return out
}

// TestGatewayGCSettings: the gateway examples turn GOGC off beside their GOMEMLIMIT, the setting
// README "Sizing" measured (a GOMEMLIMIT with the default GOGC only adds collections), and keep
// GOMEMLIMIT below memory_limiter's soft limit, which a heap growing towards GOMEMLIMIT would
// otherwise pass, making memory_limiter refuse data.
func TestGatewayGCSettings(t *testing.T) {
	envOf := func(list any) map[string]any {
		env := map[string]any{}
		items, _ := list.([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				env[fmt.Sprint(m["name"])] = m["value"]
			}
		}
		return env
	}
	sts := loadYAMLDocs(t, "k8s/gateway-statefulset.yaml")[1]
	containers, _ := sts.Get("spec::template::spec::containers").([]any)
	if len(containers) == 0 {
		t.Fatal("k8s/gateway-statefulset.yaml: no containers")
	}
	container := confmap.NewFromStringMap(containers[0].(map[string]any))
	helm := loadYAML(t, "helm/gateway-values.yaml")
	for _, g := range []struct {
		file          string
		env           map[string]any
		memory        any
		memoryLimiter *confmap.Conf
	}{
		{"k8s/gateway-statefulset.yaml", envOf(container.Get("env")), container.Get("resources::limits::memory"),
			loadYAML(t, "scaleout/gateway.yaml")}, // its ConfigMap's config.yaml
		{"helm/gateway-values.yaml", envOf(helm.Get("extraEnvs")), helm.Get("resources::limits::memory"), mustSub(t, helm, "config")},
	} {
		if g.env["GOGC"] != "off" {
			t.Errorf("%s: GOGC %v, want off beside GOMEMLIMIT", g.file, g.env["GOGC"])
		}
		limit, err1 := quantityBytes(fmt.Sprint(g.env["GOMEMLIMIT"]))
		memory, err2 := quantityBytes(fmt.Sprint(g.memory))
		if err := errors.Join(err1, err2); err != nil {
			t.Errorf("%s: %v", g.file, err)
			continue
		}
		pct := func(key string) float64 {
			v, _ := g.memoryLimiter.Get("processors::memory_limiter::" + key).(int)
			return float64(v)
		}
		soft := (pct("limit_percentage") - pct("spike_limit_percentage")) / 100 * memory
		if soft <= 0 || limit >= soft {
			t.Errorf("%s: GOMEMLIMIT %v is not below memory_limiter's soft limit of %.0f MiB", g.file, g.env["GOMEMLIMIT"], soft/(1<<20))
		}
	}
}

func mustSub(t *testing.T, c *confmap.Conf, key string) *confmap.Conf {
	t.Helper()
	sub, err := c.Sub(key)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// quantityBytes reads a size as Kubernetes (Mi, Gi) or Go's GOMEMLIMIT (MiB, GiB) write it.
func quantityBytes(q string) (float64, error) {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"MiB", 20}, {"GiB", 30}, {"Mi", 20}, {"Gi", 30}} {
		if n, ok := strings.CutSuffix(q, u.suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil {
				return 0, fmt.Errorf("size %q: %w", q, err)
			}
			return v * float64(uint64(1)<<u.shift), nil
		}
	}
	return 0, fmt.Errorf("size %q: not in Mi, Gi, MiB or GiB", q)
}
