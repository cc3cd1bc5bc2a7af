package engine

import (
	"context"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// windowEvent runs six anomalous spans of webPod (webText3) through a window that closes, and
// returns the one event.
func windowEvent(t *testing.T) Event {
	t.Helper()
	h := newHarness(t, ratioCSV)
	h.spans(webPod, 3535, 6, 300, 100)
	h.e.Flush(context.Background())
	return mustOneEvent(t, h.takeEvents())
}

// TestEventBody spells every field out literally (not through the package's constants), as the
// HEC exporter would send the body.
func TestEventBody(t *testing.T) {
	ev := windowEvent(t)
	want := map[string]any{
		"k8s.cluster.name":   "prod",
		"host":               "node-1",
		"k8s.pod.name":       "web-7c5ddbdf54-x8f2k",
		"k8s.namespace.name": "default",
		"k8s.service":        "web",
		"count":              int64(6),
		"anomalies":          []any{webText3},
		"window_start":       int64(1_699_999_200),
		"window_end":         int64(1_700_002_800),
		"search_name":        "Kubernetes Anomalous Inbound to Outbound Network IO Ratio",
		"detection_id":       "9d8f6e3f-39df-46d8-a9d4-96173edc501f",
		"risk_score":         int64(25),
		"risk_object":        "node-1",
		"risk_object_type":   "system",
		"mitre_attack_id":    []any{"T1204"},
		"analytic_story":     "Abnormal Kubernetes Behavior using Splunk Infrastructure Monitoring",
		"message":            "Kubernetes Anomalous Inbound to Outbound Network IO Ratio from Container on host node-1",
		"max_zscore":         map[string]any{"inbound:outbound": 20.0},
		// Peer context: every span moved 300 in and 100 out in 10 s; web is the only pod of
		// prod:web scored in the window, and it passed the threshold. ratioCSV has no volume
		// columns, so no usual rates.
		"inbound_rate":    30.0,
		"outbound_rate":   10.0,
		"peers_anomalous": int64(1),
		"peers_total":     int64(1),
		// Splunk ES risk-based alerting, next to the fields above.
		"event_type":         "pod_anomaly",
		"risk_message":       "Kubernetes Anomalous Inbound to Outbound Network IO Ratio from Container on host node-1",
		"threat_object":      "default/web-7c5ddbdf54-x8f2k",
		"threat_object_type": "k8s_pod",
		"annotations": map[string]any{
			"analytic_story":    []any{"Abnormal Kubernetes Behavior using Splunk Infrastructure Monitoring"},
			"cis20":             []any{"CIS 13"},
			"kill_chain_phases": []any{"Installation"},
			"mitre_attack": map[string]any{
				"mitre_tactic":       []any{"Execution"},
				"mitre_tactic_id":    []any{"TA0002"},
				"mitre_technique":    []any{"User Execution"},
				"mitre_technique_id": []any{"T1204"},
			},
			"nist": []any{"DE.AE"},
		},
	}
	got := ev.Body()
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("body has no %q", k)
		} else if !reflect.DeepEqual(g, w) {
			t.Errorf("body[%q] = %#v, want %#v", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected body field %q = %#v", k, got[k])
		}
	}
}

// TestEventPeerContext: three replicas of web on three nodes, webPod2 anomalous (six spans of
// 300/100, but its peak span has 600/100), the two others normal (50/100); the baseline has volume
// columns (usual 1000 in, 500 out per span). Its event says 1 of 3 pods anomalous, the peak
// span's rates (60 and 10 B/s) and the usual rates (100 and 50 B/s).
func TestEventPeerContext(t *testing.T) {
	csv := "key,avg_inbound:outbound,stdev_inbound:outbound,avg_inbound_network_io,stdev_inbound_network_io,avg_outbound_network_io,stdev_outbound_network_io\n" +
		"prod:web,0.5,0.125,1000,100000,500,100000\n"
	h := newHarness(t, csv)
	third := podRes{uid: "uid-web-3", name: "web-7c5ddbdf54-zzzzz", namespace: "default", cluster: "prod", node: "node-3"}
	h.feed(3535, traffic{webPod, 0, 0}, traffic{webPod2, 0, 0}, traffic{third, 0, 0})
	for i := int64(1); i <= 6; i++ {
		in := int64(300)
		if i == 3 {
			in = 600
		}
		h.feed(3535+10*i, traffic{webPod, 50, 100}, traffic{webPod2, in, 100}, traffic{third, 50, 100})
	}
	h.e.Flush(context.Background())
	e := mustOneEvent(t, h.takeEvents())
	ev := e.Body()
	for k, w := range map[string]any{
		"k8s.pod.name": webPod2.name, "peers_anomalous": int64(1), "peers_total": int64(3),
		"inbound_rate": 60.0, "outbound_rate": 10.0, "usual_inbound_rate": 100.0, "usual_outbound_rate": 50.0,
	} {
		if !reflect.DeepEqual(ev[k], w) {
			t.Errorf("%s = %#v, want %#v", k, ev[k], w)
		}
	}
}

// TestServiceShiftBodyHasNoRisk: the service-shift record of windowEvent's pod keeps the pod
// event's context but carries none of the risk or threat fields (it is no risk on the node).
func TestServiceShiftBodyHasNoRisk(t *testing.T) {
	ev := windowEvent(t).serviceShift()
	b := ev.Body()
	for _, k := range []string{"risk_score", "risk_object", "risk_object_type", "risk_message",
		"threat_object", "threat_object_type", "annotations"} {
		if v, ok := b[k]; ok {
			t.Errorf("service-shift body has %s = %#v", k, v)
		}
	}
	if b["event_type"] != "service_shift" || b["service_shift"] != true || b["k8s.service"] != "web" ||
		b["peers_anomalous"] != int64(1) || b["peers_total"] != int64(1) {
		t.Errorf("service-shift body %v", b)
	}
}

func TestToLogs(t *testing.T) {
	ev := windowEvent(t)
	for _, tc := range []struct {
		name  string
		cfg   EventConfig
		index bool
	}{
		{"default", DefaultConfig().Event, false},
		{"with index", EventConfig{Sourcetype: "st", Source: "src", Index: "k8s_security"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			ld := ToLogs([]Event{ev, ev}, tc.cfg)
			if n := ld.LogRecordCount(); n != 2 {
				t.Fatalf("%d log records, want 2", n)
			}
			lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
			if got, want := lr.Timestamp(), pcommon.Timestamp(1_700_002_800*int64(time.Second)); got != want {
				t.Errorf("timestamp %v, want the window end %v", got.AsTime(), want.AsTime())
			}
			if lr.ObservedTimestamp().AsTime().Before(before.Add(-time.Second)) {
				t.Errorf("observed timestamp %v not set to now", lr.ObservedTimestamp().AsTime())
			}
			if lr.SeverityNumber() != plog.SeverityNumberWarn || lr.SeverityText() != "WARN" {
				t.Errorf("severity %v %q, want WARN", lr.SeverityNumber(), lr.SeverityText())
			}
			if lr.Body().Type() != pcommon.ValueTypeMap || lr.Body().Map().Len() == 0 {
				t.Fatalf("body %v, want a non-empty map", lr.Body().Type())
			}
			if !reflect.DeepEqual(lr.Body().Map().AsRaw(), ev.Body()) {
				t.Errorf("record body differs from Event.Body()")
			}
			want := map[string]any{
				"com.splunk.sourcetype": tc.cfg.Sourcetype,
				"com.splunk.source":     tc.cfg.Source,
				"host.name":             "node-1",
			}
			if tc.index {
				want["com.splunk.index"] = "k8s_security"
			}
			if got := lr.Attributes().AsRaw(); !reflect.DeepEqual(got, want) {
				t.Errorf("attributes = %v, want %v", got, want)
			}
		})
	}
	if tc := DefaultConfig().Event; tc.Sourcetype != "k8s:netio:anomaly" || tc.Source != "k8s_netio_anomaly" || tc.Index != "" {
		t.Errorf("default event config %+v", tc)
	}
}

// TestImmediateEventTimestamp: in immediate mode the record's timestamp is the crossing span's
// start (t0+60, see TestImmediateMode), while window_start/window_end still name the window.
func TestImmediateEventTimestamp(t *testing.T) {
	h := newHarness(t, ratioCSV, func(c *Config) { c.Mode = ModeImmediate })
	h.spans(webPod, 5, 7, 300, 100)
	ev := mustOneEvent(t, h.takeEvents())
	lr := ToLogs([]Event{ev}, h.cfg.Event).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	if got := lr.Timestamp().AsTime(); !got.Equal(timeAt(60)) {
		t.Errorf("timestamp %v, want t0+60", got)
	}
	b := ev.Body()
	if b["window_start"] != t0 || b["window_end"] != t0+3600 {
		t.Errorf("window %v..%v, want %d..%d", b["window_start"], b["window_end"], t0, t0+3600)
	}
}

// TestEventsSorted: two pods' events of one window come out in a stable order (by node, then pod)
// and are counted in events_emitted.
func TestEventsSorted(t *testing.T) {
	h := newHarness(t, ratioCSV)
	spansEach(h, []podRes{webPod2, webPod}, []int{6, 6}) // webPod2 is on node-2, webPod on node-1
	h.e.Flush(context.Background())
	evs := h.takeEvents()
	if len(evs) != 2 || evs[0].Node != "node-1" || evs[1].Node != "node-2" {
		t.Fatalf("events %s, want node-1 then node-2", describeEvents(evs))
	}
	if n := h.counter("events_emitted", ""); n != 2 {
		t.Errorf("events_emitted = %d, want 2", n)
	}
}

// TestSameNameTwoNamespaces: pods with the same name in two namespaces (no uid) are two pods and
// two groups.
func TestSameNameTwoNamespaces(t *testing.T) {
	h := newHarness(t, ratioCSV)
	a := podRes{name: "web-0", namespace: "a", cluster: "prod", node: "node-1"}
	b := podRes{name: "web-0", namespace: "b", cluster: "prod", node: "node-1"}
	spansEach(h, []podRes{a, b}, []int{6, 6})
	h.e.Flush(context.Background())
	evs := h.takeEvents()
	if len(evs) != 2 || evs[0].Namespace != "a" || evs[1].Namespace != "b" || evs[0].Count != 6 || evs[1].Count != 6 {
		t.Fatalf("events %s, want one per namespace with count 6", describeEvents(evs))
	}
}
