package engine

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/k8snetio/k8snetioanomaly/internal/baseline"
)

// The detection's fixed metadata, from the ESCU search "Kubernetes Anomalous Inbound to
// Outbound Network IO Ratio".
const (
	SearchName     = "Kubernetes Anomalous Inbound to Outbound Network IO Ratio"
	DetectionID    = "9d8f6e3f-39df-46d8-a9d4-96173edc501f"
	RiskScore      = 25
	RiskObjectType = "system"
	MitreAttackID  = "T1204"
	AnalyticStory  = "Abnormal Kubernetes Behavior using Splunk Infrastructure Monitoring"
	messagePrefix  = "Kubernetes Anomalous Inbound to Outbound Network IO Ratio from Container on host "

	// Splunk Enterprise Security's risk-based alerting: the pod is the threat object of the
	// risk event on the node, and the seed's annotations go under the names ES gives them in
	// the risk index (annotations.mitre_attack.mitre_technique_id, annotations.cis20, ...).
	ThreatObjectType = "k8s_pod"
	MitreTechnique   = "User Execution"
	MitreTactic      = "Execution"
	MitreTacticID    = "TA0002"
	KillChainPhase   = "Installation"
	NIST             = "DE.AE"
	CIS20            = "CIS 13"

	// EventTypePod and EventTypeServiceShift are the values of the body's event_type.
	EventTypePod          = "pod_anomaly"
	EventTypeServiceShift = "service_shift"
)

// Event is one pod's verdict for one window: the search's final `stats count values(anomalies)`.
type Event struct {
	Cluster, Node, Pod, Namespace, Service string
	Count                                  int
	Anomalies                              []string // distinct span texts, sorted by byte value
	WindowStart, WindowEnd                 time.Time
	// MaxZ is the highest z-score of each signal that flagged in the window.
	MaxZ map[baseline.Signal]float64
	// Time is the record's timestamp: the window end, or in immediate mode the span that crossed the threshold.
	Time time.Time

	// Peer context: the bytes of the window's most anomalous span, and the service's usual
	// bytes per span when the baseline has volume columns; SpanSeconds makes them rates.
	PeakInbound, PeakOutbound   float64
	UsualInbound, UsualOutbound float64
	HasUsual                    bool
	SpanSeconds                 float64
	// PeersAnomalous of PeersTotal pods of the same service scored in the window passed the
	// count threshold, as known when the event was made.
	PeersAnomalous, PeersTotal int
	// ServiceShift marks a service-wide shift's record; Pod and Namespace are those of the
	// pod that completed the majority, but the record stands for the service.
	ServiceShift bool
}

// serviceShift turns a pod's event into its service's shift record.
func (ev Event) serviceShift() Event {
	ev.ServiceShift = true
	return ev
}

// PutBody writes the HEC `event` object; the field names are the search's output fields.
func (ev *Event) PutBody(m pcommon.Map) {
	m.EnsureCapacity(28)
	m.PutStr("k8s.cluster.name", ev.Cluster)
	m.PutStr("host", ev.Node)
	m.PutStr("k8s.pod.name", ev.Pod)
	m.PutStr("k8s.namespace.name", ev.Namespace)
	m.PutStr("k8s.service", ev.Service)
	m.PutInt("count", int64(ev.Count))
	anomalies := m.PutEmptySlice("anomalies")
	anomalies.EnsureCapacity(len(ev.Anomalies))
	for _, a := range ev.Anomalies {
		anomalies.AppendEmpty().SetStr(a)
	}
	m.PutInt("window_start", ev.WindowStart.Unix())
	m.PutInt("window_end", ev.WindowEnd.Unix())
	m.PutStr("search_name", SearchName)
	m.PutStr("detection_id", DetectionID)
	m.PutInt("risk_score", RiskScore)
	m.PutStr("risk_object", ev.Node)
	m.PutStr("risk_object_type", RiskObjectType)
	m.PutEmptySlice("mitre_attack_id").AppendEmpty().SetStr(MitreAttackID)
	m.PutStr("analytic_story", AnalyticStory)
	m.PutStr("message", messagePrefix+ev.Node)
	z := m.PutEmptyMap("max_zscore")
	for s := baseline.Signal(0); s < baseline.NumSignals; s++ {
		if v, ok := ev.MaxZ[s]; ok {
			z.PutDouble(s.String(), v)
		}
	}
	if ev.SpanSeconds > 0 {
		m.PutDouble("inbound_rate", ev.PeakInbound/ev.SpanSeconds)
		m.PutDouble("outbound_rate", ev.PeakOutbound/ev.SpanSeconds)
		if ev.HasUsual {
			m.PutDouble("usual_inbound_rate", ev.UsualInbound/ev.SpanSeconds)
			m.PutDouble("usual_outbound_rate", ev.UsualOutbound/ev.SpanSeconds)
		}
	}
	m.PutInt("peers_anomalous", int64(ev.PeersAnomalous))
	m.PutInt("peers_total", int64(ev.PeersTotal))
	if !ev.ServiceShift {
		ev.putRisk(m)
	} else {
		// Not a risk on the node: a record for the service, for the responder's context. It
		// has none of the risk fields (no risk_*, threat_*, annotations).
		m.PutBool("service_shift", true)
		m.PutStr("event_type", EventTypeServiceShift)
		m.PutStr("message", "Service-wide network IO shift of "+ev.Service+" on cluster "+ev.Cluster+
			": most of its pods changed together (a deploy or a load change, not one compromised pod)")
		m.Remove("risk_score")
		m.Remove("risk_object")
		m.Remove("risk_object_type")
	}
}

// putRisk adds the fields of ES's risk-based alerting, next to the search's own: the same
// message as risk_message, the pod as threat object, and the detection's annotations.
func (ev *Event) putRisk(m pcommon.Map) {
	m.PutStr("event_type", EventTypePod)
	m.PutStr("risk_message", messagePrefix+ev.Node)
	m.PutStr("threat_object", ev.Namespace+"/"+ev.Pod)
	m.PutStr("threat_object_type", ThreatObjectType)
	a := m.PutEmptyMap("annotations")
	a.PutEmptySlice("analytic_story").AppendEmpty().SetStr(AnalyticStory)
	a.PutEmptySlice("cis20").AppendEmpty().SetStr(CIS20)
	a.PutEmptySlice("kill_chain_phases").AppendEmpty().SetStr(KillChainPhase)
	mitre := a.PutEmptyMap("mitre_attack")
	mitre.PutEmptySlice("mitre_tactic").AppendEmpty().SetStr(MitreTactic)
	mitre.PutEmptySlice("mitre_tactic_id").AppendEmpty().SetStr(MitreTacticID)
	mitre.PutEmptySlice("mitre_technique").AppendEmpty().SetStr(MitreTechnique)
	mitre.PutEmptySlice("mitre_technique_id").AppendEmpty().SetStr(MitreAttackID)
	a.PutEmptySlice("nist").AppendEmpty().SetStr(NIST)
}

// Body returns the event object as plain Go values, as the HEC exporter would send it.
func (ev *Event) Body() map[string]any {
	m := pcommon.NewMap()
	ev.PutBody(m)
	return m.AsRaw()
}

// ToLogs turns events into one log record each, with the attributes the splunk_hec exporter
// maps to HEC metadata.
func ToLogs(events []Event, cfg EventConfig) plog.Logs {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName("github.com/k8snetio/k8snetioanomaly")
	for i := range events {
		ev := &events[i]
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ev.Time))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		if ev.ServiceShift {
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
		} else {
			lr.SetSeverityNumber(plog.SeverityNumberWarn)
			lr.SetSeverityText("WARN")
		}
		ev.PutBody(lr.Body().SetEmptyMap())
		attrs := lr.Attributes()
		attrs.PutStr("com.splunk.sourcetype", cfg.Sourcetype)
		attrs.PutStr("com.splunk.source", cfg.Source)
		if cfg.Index != "" {
			attrs.PutStr("com.splunk.index", cfg.Index)
		}
		attrs.PutStr("host.name", ev.Node)
	}
	return ld
}
