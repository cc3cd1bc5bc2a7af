package examples

// Tests of the Splunk app in splunk/: its .conf files parse, the dashboard is valid Dashboard
// Studio, the risk rule agrees with the event, and every event field the searches and the
// dashboard use exists in the events the collector sends.

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

const (
	splunkApp = "splunk"
	// replayEvents holds the events the replay example produces: the body the engine writes, which
	// the splunk_hec exporter sends as the HEC event (the e2e test receives the same body).
	replayEvents = "../testdata/replay/expected.jsonl"
	riskRule     = "K8s NetIO - Kubernetes Anomalous Inbound to Outbound Network IO Ratio - Rule"
	compareESCU  = "K8s NetIO - Compare with ESCU Kubernetes Anomalous Inbound to Outbound Network IO Ratio"
	dashboard    = "splunk/default/data/ui/views/k8s_netio_anomaly_overview.xml"
)

// confStanza is one [stanza] of a .conf file; settings before any stanza go to "default", as
// Splunk reads them.
type confStanza struct {
	name     string
	settings map[string]string
}

type confFile struct {
	stanzas []confStanza
}

func (c confFile) stanza(name string) (map[string]string, bool) {
	for _, s := range c.stanzas {
		if s.name == name {
			return s.settings, true
		}
	}
	return nil, false
}

// parseConf reads Splunk's .conf syntax: "# comment" lines (a # that starts the line), blank
// lines, "[stanza]", "key = value", and a value continued on the next line when its line ends
// with a backslash (the lines are joined with a newline, as Splunk keeps them). Anything else, a
// repeated stanza or key, or a continuation at the end of the file is an error.
func parseConf(data string) (confFile, error) {
	var c confFile
	cur := -1
	var key string // the key whose value continues on the next line
	var lastLine int
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		lastLine = n
		raw := sc.Text()
		if key != "" {
			v, more := strings.CutSuffix(raw, `\`)
			c.stanzas[cur].settings[key] += "\n" + v
			if !more {
				key = ""
			}
			continue
		}
		line := strings.TrimSpace(raw)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") { // "[]" is the default stanza of .meta files
				return c, fmt.Errorf("line %d: bad stanza %q", n, line)
			}
			name := line[1 : len(line)-1]
			if _, dup := c.stanza(name); dup {
				return c, fmt.Errorf("line %d: stanza [%s] repeated", n, name)
			}
			c.stanzas = append(c.stanzas, confStanza{name: name, settings: map[string]string{}})
			cur = len(c.stanzas) - 1
		default:
			k, v, ok := strings.Cut(line, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" || strings.ContainsAny(k, " \t") {
				return c, fmt.Errorf("line %d: neither a stanza, a comment nor key = value: %q", n, line)
			}
			if cur < 0 {
				c.stanzas = append(c.stanzas, confStanza{name: "default", settings: map[string]string{}})
				cur = 0
			}
			if _, dup := c.stanzas[cur].settings[k]; dup {
				return c, fmt.Errorf("line %d: %s repeated in [%s]", n, k, c.stanzas[cur].name)
			}
			v, more := strings.CutSuffix(strings.TrimSpace(v), `\`)
			c.stanzas[cur].settings[k] = v
			if more {
				key = k
			}
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	if key != "" {
		return c, fmt.Errorf("line %d: %s continues past the end of the file", lastLine, key)
	}
	return c, nil
}

func TestParseConf(t *testing.T) {
	c, err := parseConf("top = 1\n# comment\n[a]\nx = 1 \\\n  two\\\nthree\n\n[b b]\n  # indented comment\ny=\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []confStanza{
		{"default", map[string]string{"top": "1"}},
		{"a", map[string]string{"x": "1 \n  two\nthree"}},
		{"b b", map[string]string{"y": ""}},
	}
	if !reflect.DeepEqual(c.stanzas, want) {
		t.Errorf("parsed %+v, want %+v", c.stanzas, want)
	}
	for _, bad := range []string{"[a]\nnot a setting\n", "[a]\n[a]\n", "[a]\nx = 1\nx = 2\n", "[a]\nx = 1 \\\n", "[a\n"} {
		if _, err := parseConf(bad); err == nil {
			t.Errorf("parseConf(%q) gave no error", bad)
		}
	}
}

// readApp parses every .conf and .meta file of the app.
func readApp(t *testing.T) map[string]confFile {
	t.Helper()
	confs := map[string]confFile{}
	err := filepath.WalkDir(splunkApp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".conf" && filepath.Ext(p) != ".meta") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		c, err := parseConf(string(data))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(splunkApp, p)
		confs[filepath.ToSlash(rel)] = c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"default/app.conf", "default/props.conf", "default/indexes.conf", "default/macros.conf",
		"default/savedsearches.conf", "metadata/default.meta"} {
		if _, ok := confs[f]; !ok {
			t.Errorf("app has no %s", f)
		}
	}
	return confs
}

func setting(t *testing.T, confs map[string]confFile, file, stanza, key string) string {
	t.Helper()
	s, ok := confs[file].stanza(stanza)
	if !ok {
		t.Fatalf("%s has no [%s]", file, stanza)
	}
	v, ok := s[key]
	if !ok {
		t.Fatalf("%s [%s] has no %s", file, stanza, key)
	}
	return v
}

// TestSplunkAppConf checks what the collector and the README rely on: the app's id, the
// sourcetype's JSON extraction, the index the macro searches, the risk rule's form.
func TestSplunkAppConf(t *testing.T) {
	confs := readApp(t)
	if id := setting(t, confs, "default/app.conf", "package", "id"); id != "k8s_netio_anomaly" {
		t.Errorf("app id %q, want k8s_netio_anomaly (the directory name the README installs it as)", id)
	}
	st := engine.DefaultConfig().Event.Sourcetype
	if v := setting(t, confs, "default/props.conf", st, "KV_MODE"); v != "json" {
		t.Errorf("props.conf [%s] KV_MODE = %q, want json", st, v)
	}
	if props, _ := confs["default/props.conf"].stanza(st); props["INDEXED_EXTRACTIONS"] != "" {
		t.Errorf("props.conf [%s] sets INDEXED_EXTRACTIONS: fields would be extracted twice", st)
	}
	macro := setting(t, confs, "default/macros.conf", "k8s_netio_anomaly_events", "definition")
	idx, ok := confs["default/indexes.conf"]
	if !ok || len(idx.stanzas) != 1 || !strings.Contains(macro, "index="+idx.stanzas[0].name+" ") ||
		!strings.Contains(macro, `sourcetype="`+st+`"`) {
		t.Errorf("macro k8s_netio_anomaly_events %q does not search the example index and sourcetype %s", macro, st)
	}

	// The risk rule: risk on the node, the pod as threat object, the event's score.
	ev := replayEvent(t)
	if v := setting(t, confs, "default/savedsearches.conf", riskRule, "action.risk"); v != "1" {
		t.Errorf("risk rule action.risk = %q", v)
	}
	if v := setting(t, confs, "default/savedsearches.conf", riskRule, "action.correlationsearch.enabled"); v != "1" {
		t.Errorf("risk rule action.correlationsearch.enabled = %q", v)
	}
	var risk []map[string]any
	if err := json.Unmarshal([]byte(setting(t, confs, "default/savedsearches.conf", riskRule, "action.risk.param._risk")), &risk); err != nil {
		t.Fatalf("_risk: %v", err)
	}
	wantRisk := []map[string]any{
		{"risk_object_field": "host", "risk_object_type": ev["risk_object_type"], "risk_score": ev["risk_score"]},
		{"threat_object_field": "threat_object", "threat_object_type": ev["threat_object_type"]},
	}
	if !reflect.DeepEqual(risk, wantRisk) {
		t.Errorf("_risk = %v, want %v (the event's risk_object_type, risk_score and threat_object_type)", risk, wantRisk)
	}
	if ev["risk_object"] != ev["host"] || ev["threat_object"] != fmt.Sprint(ev["k8s.namespace.name"], "/", ev["k8s.pod.name"]) {
		t.Errorf("event risk_object %v / threat_object %v do not name the node and the pod", ev["risk_object"], ev["threat_object"])
	}
	if v := setting(t, confs, "default/savedsearches.conf", riskRule, "action.risk.param._risk_message"); v != "$risk_message$" {
		t.Errorf("_risk_message = %q, want the event's $risk_message$", v)
	}

	// The correlation search's annotations (ES's configuration form, mitre_attack a list of
	// technique ids) say what the event's annotations say (the risk index's form).
	var ann map[string]any
	if err := json.Unmarshal([]byte(setting(t, confs, "default/savedsearches.conf", riskRule, "action.correlationsearch.annotations")), &ann); err != nil {
		t.Fatalf("annotations: %v", err)
	}
	evAnn, _ := ev["annotations"].(map[string]any)
	mitre, _ := evAnn["mitre_attack"].(map[string]any)
	for k, want := range map[string]any{
		"analytic_story": evAnn["analytic_story"], "cis20": evAnn["cis20"], "kill_chain_phases": evAnn["kill_chain_phases"],
		"nist": evAnn["nist"], "mitre_attack": mitre["mitre_technique_id"],
	} {
		if want == nil || !reflect.DeepEqual(ann[k], want) {
			t.Errorf("correlation search annotations %s = %v, event's %v", k, ann[k], want)
		}
	}
	if !reflect.DeepEqual(mitre["mitre_technique_id"], ev["mitre_attack_id"]) {
		t.Errorf("annotations.mitre_attack.mitre_technique_id %v, mitre_attack_id %v", mitre["mitre_technique_id"], ev["mitre_attack_id"])
	}
	if !strings.Contains(setting(t, confs, "default/savedsearches.conf", compareESCU, "search"),
		`| savedsearch "ESCU - `+engine.SearchName+` - Rule"`) {
		t.Errorf("the comparison search does not run the ESCU saved search %q", engine.SearchName)
	}
}

// Dashboard Studio's definition, as far as the test checks it.
type studioDefinition struct {
	Title       string `json:"title"`
	DataSources map[string]struct {
		Type    string `json:"type"`
		Options struct {
			Query string `json:"query"`
		} `json:"options"`
	} `json:"dataSources"`
	Visualizations map[string]struct {
		Type        string            `json:"type"`
		DataSources map[string]string `json:"dataSources"`
	} `json:"visualizations"`
	Inputs map[string]struct {
		Type    string `json:"type"`
		Options struct {
			Token string `json:"token"`
		} `json:"options"`
	} `json:"inputs"`
	Layout struct {
		Type         string   `json:"type"`
		GlobalInputs []string `json:"globalInputs"`
		Structure    []struct {
			Item string `json:"item"`
		} `json:"structure"`
	} `json:"layout"`
}

// readDashboard reads the view: Dashboard Studio stores its JSON definition in the CDATA of a
// version="2" <dashboard>. It returns the definition and its raw JSON.
func readDashboard(t *testing.T) (studioDefinition, string) {
	t.Helper()
	data, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var view struct {
		XMLName    xml.Name `xml:"dashboard"`
		Version    string   `xml:"version,attr"`
		Label      string   `xml:"label"`
		Definition string   `xml:"definition"`
	}
	if err := xml.Unmarshal(data, &view); err != nil {
		t.Fatalf("%s: %v", dashboard, err)
	}
	if view.Version != "2" || view.Label == "" {
		t.Errorf("%s: version %q label %q, want a Dashboard Studio view (version 2) with a label", dashboard, view.Version, view.Label)
	}
	var def studioDefinition
	dec := json.NewDecoder(strings.NewReader(view.Definition))
	if err := dec.Decode(&def); err != nil {
		t.Fatalf("%s: definition is not JSON: %v", dashboard, err)
	}
	if !json.Valid([]byte(view.Definition)) {
		t.Fatalf("%s: definition is not valid JSON", dashboard)
	}
	return def, view.Definition
}

// TestSplunkDashboard: the definition is valid JSON whose references resolve: each layout item
// is a visualization, each visualization's data source exists and is a search, each token used
// is an input's.
func TestSplunkDashboard(t *testing.T) {
	def, raw := readDashboard(t)
	var queries strings.Builder
	for _, ds := range def.DataSources {
		queries.WriteString(ds.Options.Query + "\n")
	}
	if def.Layout.Type == "" || len(def.Layout.Structure) != len(def.Visualizations) {
		t.Errorf("layout %q places %d items, %d visualizations", def.Layout.Type, len(def.Layout.Structure), len(def.Visualizations))
	}
	for _, it := range def.Layout.Structure {
		if _, ok := def.Visualizations[it.Item]; !ok {
			t.Errorf("layout places %q, which is no visualization", it.Item)
		}
	}
	for _, in := range def.Layout.GlobalInputs {
		if _, ok := def.Inputs[in]; !ok {
			t.Errorf("layout's global input %q is not defined", in)
		}
	}
	used := map[string]bool{}
	for id, v := range def.Visualizations {
		ds, ok := def.DataSources[v.DataSources["primary"]]
		if !strings.HasPrefix(v.Type, "splunk.") || !ok || ds.Type != "ds.search" || ds.Options.Query == "" {
			t.Errorf("visualization %s (%s): primary data source %q is not a search", id, v.Type, v.DataSources["primary"])
		}
		used[v.DataSources["primary"]] = true
	}
	for id := range def.DataSources {
		if !used[id] {
			t.Errorf("data source %s is shown nowhere", id)
		}
	}
	tokens := map[string]bool{}
	for _, in := range def.Inputs {
		tokens[in.Options.Token] = true
	}
	for _, m := range regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)(\.[a-z]+)?\$`).FindAllStringSubmatch(raw, -1) {
		if !tokens[m[1]] {
			t.Errorf("token $%s%s$ is set by no input", m[1], m[2])
		}
	}
	// The panels the issue asks for, by what they search.
	for _, want := range []string{"timechart count by k8s.cluster.name", "by k8s.cluster.name host k8s.namespace.name k8s.pod.name",
		"by k8s.cluster.name k8s.service", "max_zscore.*", `event_type="service_shift"`, "peers_anomalous", "peers_total"} {
		if !strings.Contains(queries.String(), want) {
			t.Errorf("no panel searches %q", want)
		}
	}
}

// replayEvent returns the replay example's event body, as JSON gives it.
func replayEvent(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(replayEvents)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	var ev map[string]any
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("%s: %v", replayEvents, err)
	}
	return ev
}

// splunkFields lists the field names Splunk's JSON extraction (KV_MODE = json) gives a body:
// nested keys joined with ".", arrays suffixed "{}". Then the HEC metadata fields.
func splunkFields(body map[string]any) map[string]bool {
	fields := map[string]bool{"_time": true, "_raw": true, "host": true, "source": true, "sourcetype": true, "index": true}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(prefix+k+".", x)
			}
		case []any:
			name := strings.TrimSuffix(prefix, ".") + "{}"
			fields[name] = true
			for _, x := range v {
				if _, ok := x.(map[string]any); ok {
					walk(name+".", x)
				}
			}
		default:
			fields[strings.TrimSuffix(prefix, ".")] = true
		}
	}
	walk("", body)
	return fields
}

// splVocabulary: the SPL commands, keywords and argument names the searches use; every other bare
// word that is not a function (a word before "("), a value (after = < > or !), a number or a name
// the search defines itself (after "as", or "eval <name>=") is taken for an event field. A
// command added to the searches and missing here shows up as an unknown field: add it here.
var splVocabulary = map[string]bool{
	"search": true, "stats": true, "timechart": true, "eval": true, "where": true, "fields": true, "table": true,
	"sort": true, "head": true, "foreach": true, "append": true, "savedsearch": true, "rename": true,
	"by": true, "as": true, "AND": true, "OR": true, "NOT": true, "earliest": true, "latest": true,
}

var (
	splString    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	splQuoted    = regexp.MustCompile(`'([^']+)'`)
	splMacro     = regexp.MustCompile("`([^`]+)`")
	splDefined   = regexp.MustCompile(`\b(?:as|AS)\s+([A-Za-z_][A-Za-z0-9_.]*)|(?:\beval\s+|,\s*)([A-Za-z_][A-Za-z0-9_.]*)\s*=[^=]`)
	splWord      = regexp.MustCompile(`(^|[^A-Za-z0-9_.*{}'<>=!@-])([A-Za-z_][A-Za-z0-9_.*{}]*)`)
	splValueWord = regexp.MustCompile(`[=<>!]=?\s*([A-Za-z_0-9][A-Za-z0-9_.*@{}:-]*)`)
)

// splFields returns the event fields an SPL text uses (see splVocabulary), after expanding macros.
func splFields(t *testing.T, spl string, macros map[string]string) []string {
	t.Helper()
	for i := 0; i < 5 && splMacro.MatchString(spl); i++ {
		spl = splMacro.ReplaceAllStringFunc(spl, func(m string) string {
			def, ok := macros[strings.Trim(m, "`")]
			if !ok {
				t.Errorf("SPL uses macro %s, which the app does not define", m)
			}
			return " " + def + " "
		})
	}
	spl = strings.ReplaceAll(spl, "'<<FIELD>>'", " ")
	var fields []string
	for _, m := range splQuoted.FindAllStringSubmatch(splString.ReplaceAllString(spl, " "), -1) {
		fields = append(fields, m[1])
	}
	spl = splQuoted.ReplaceAllString(splString.ReplaceAllString(spl, ` "" `), " ")
	defined := map[string]bool{}
	for _, m := range splDefined.FindAllStringSubmatch(spl, -1) {
		defined[m[1]+m[2]] = true
	}
	spl = splValueWord.ReplaceAllString(spl, " = ")
	for _, m := range splWord.FindAllStringSubmatchIndex(spl, -1) {
		w := spl[m[4]:m[5]]
		function := strings.HasPrefix(strings.TrimLeft(spl[m[5]:], " \t"), "(")
		if function || splVocabulary[w] || defined[w] {
			continue
		}
		fields = append(fields, w)
	}
	sort.Strings(fields)
	return slices.Compact(fields)
}

func TestSPLFields(t *testing.T) {
	got := splFields(t, "`m` x=1 | eval y='a.b:c'+1, z=if(w>2, \"q r\", v) | stats count max(u) as mx by k8s.pod.name | foreach s.* [eval y=max('<<FIELD>>', y)] | where mx>y AND x!=done | table mx, t{}",
		map[string]string{"m": `index=i sourcetype="st" earliest=-1h@h`})
	// "stats count" reads as the field count: the test cannot tell, and the event has a count.
	want := []string{"a.b:c", "count", "index", "k8s.pod.name", "s.*", "sourcetype", "t{}", "u", "v", "w", "x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splFields = %q, want %q", got, want)
	}
}

// hasField reports whether name (possibly ending in a * wildcard) is one of fields.
func hasField(fields map[string]bool, name string) bool {
	if prefix, ok := strings.CutSuffix(name, "*"); ok {
		for f := range fields {
			if strings.HasPrefix(f, prefix) && len(f) > len(prefix) {
				return true
			}
		}
		return false
	}
	return fields[name]
}

// TestSplunkFieldsExist: every event field the app's searches and dashboard use exists in the
// event the collector sends for a real scenario (the replay example's event, which is the body
// the engine writes and the splunk_hec exporter delivers). Searches over service-shift records
// (any search that names service_shift) must also find their fields in such a record, which the
// engine makes from the same pod event.
func TestSplunkFieldsExist(t *testing.T) {
	confs := readApp(t)
	macros := map[string]string{}
	for _, s := range confs["default/macros.conf"].stanzas {
		macros[s.name] = s.settings["definition"]
	}
	type spl struct{ where, text string }
	var spls []spl
	for _, s := range confs["default/savedsearches.conf"].stanzas {
		if q := s.settings["search"]; q != "" {
			spls = append(spls, spl{"savedsearches.conf [" + s.name + "]", q})
		}
	}
	def, _ := readDashboard(t)
	for id, ds := range def.DataSources {
		spls = append(spls, spl{"dashboard " + id, ds.Options.Query})
	}
	if len(spls) < 8 {
		t.Fatalf("only %d searches found", len(spls))
	}

	podEvent := replayEvent(t)
	podSets := []map[string]bool{splunkFields(podEvent)}
	shiftSets := []map[string]bool{splunkFields(shiftRecord(t, podEvent))}
	if path := os.Getenv("K8SNETIO_SPLUNK_EVENTS"); path != "" {
		// Events as a HEC receiver got them (the demo's or the e2e test's events.jsonl): every
		// field must be in each pod event and each service-shift record received.
		pods, shifts := receivedEvents(t, path)
		t.Logf("%s: %d pod events, %d service-shift records", path, len(pods), len(shifts))
		if len(pods) == 0 {
			t.Fatalf("%s has no pod event", path)
		}
		podSets = pods
		if len(shifts) > 0 {
			shiftSets = shifts
		}
	}
	for _, shift := range shiftSets {
		if hasField(shift, "risk_score") || hasField(shift, "threat_object") || hasField(shift, "annotations.*") {
			t.Errorf("a service-shift record carries risk fields: %v", shift)
		}
	}
	// in says whether every event of sets has field f. The usual rates are in an event only when
	// the baseline has the volume columns (the replay example's has them, the demo's not): for
	// them the replay event is enough.
	replayFields := splunkFields(podEvent)
	in := func(sets []map[string]bool, f string) bool {
		if f == "usual_inbound_rate" || f == "usual_outbound_rate" {
			return hasField(replayFields, f)
		}
		for _, set := range sets {
			if !hasField(set, f) {
				return false
			}
		}
		return true
	}
	for _, s := range spls {
		fields := splFields(t, s.text, macros)
		shifts := strings.Contains(s.text, "service_shift")
		for _, f := range fields {
			if !in(podSets, f) {
				t.Errorf("%s uses %s, which the event does not have", s.where, f)
			}
			if shifts && !in(shiftSets, f) {
				t.Errorf("%s reads service-shift records, which have no %s", s.where, f)
			}
		}
		t.Logf("%s: %s", s.where, strings.Join(fields, " "))
	}
	if engine.EventTypeServiceShift != "service_shift" {
		t.Errorf("the searches select service-shift records as event_type=service_shift, the engine writes %q", engine.EventTypeServiceShift)
	}
}

// receivedEvents reads the file exporter's OTLP JSON lines of HEC-received events and returns
// the Splunk field names of each pod event and each service-shift record.
func receivedEvents(t *testing.T, path string) (pods, shifts []map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var u plog.JSONUnmarshaler
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		ld, err := u.UnmarshalLogs([]byte(line))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			for j := 0; j < ld.ResourceLogs().At(i).ScopeLogs().Len(); j++ {
				lrs := ld.ResourceLogs().At(i).ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					body, ok := lrs.At(k).Body().AsRaw().(map[string]any)
					if !ok {
						t.Fatalf("%s: a record's body is no map", path)
					}
					b, _ := json.Marshal(body)
					var m map[string]any
					_ = json.Unmarshal(b, &m)
					if m["event_type"] == engine.EventTypeServiceShift {
						shifts = append(shifts, splunkFields(m))
					} else {
						pods = append(pods, splunkFields(m))
					}
				}
			}
		}
	}
	return pods, shifts
}

// shiftRecord makes the service-shift record of the replay event's pod, through the engine.
func shiftRecord(t *testing.T, ev map[string]any) map[string]any {
	t.Helper()
	num := func(k string) float64 {
		f, ok := ev[k].(float64)
		if !ok {
			t.Fatalf("replay event %s = %v", k, ev[k])
		}
		return f
	}
	str := func(k string) string { return fmt.Sprint(ev[k]) }
	e := engine.Event{
		Cluster: str("k8s.cluster.name"), Node: str("host"), Pod: str("k8s.pod.name"), Namespace: str("k8s.namespace.name"),
		Service: str("k8s.service"), Count: int(num("count")),
		WindowStart: time.Unix(int64(num("window_start")), 0), WindowEnd: time.Unix(int64(num("window_end")), 0),
		MaxZ:           map[baseline.Signal]float64{baseline.OutboundInbound: 1},
		PeersAnomalous: int(num("peers_anomalous")), PeersTotal: int(num("peers_total")),
		ServiceShift: true,
	}
	for _, a := range ev["anomalies"].([]any) {
		e.Anomalies = append(e.Anomalies, a.(string))
	}
	b, err := json.Marshal(e.Body())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["event_type"] != "service_shift" {
		t.Fatalf("shift record %v", m)
	}
	return m
}
