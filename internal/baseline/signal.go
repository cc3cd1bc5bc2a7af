package baseline

import "strconv"

// Signal is one number computed per pod and span and scored against the baseline.
type Signal uint8

const (
	InboundOutbound Signal = iota // "inbound:outbound"
	OutboundInbound               // "outbound:inbound"
	InboundIO                     // "inbound_network_io"
	OutboundIO                    // "outbound_network_io"
	NumSignals                    // count, not a signal
)

// signalNames are the field names the Splunk searches use, so baseline columns are avg_<name> / stdev_<name>.
var signalNames = [NumSignals]string{
	InboundOutbound: "inbound:outbound",
	OutboundInbound: "outbound:inbound",
	InboundIO:       "inbound_network_io",
	OutboundIO:      "outbound_network_io",
}

// String returns the signal's field name as the searches spell it.
func (s Signal) String() string {
	if s < NumSignals {
		return signalNames[s]
	}
	return "Signal(" + strconv.Itoa(int(s)) + ")"
}

// IsRatio reports whether s is one of the two ratios (their anomaly text says "ratio").
func (s Signal) IsRatio() bool {
	return s == InboundOutbound || s == OutboundInbound
}

// ParseSignal maps a field name to its Signal; matching is exact because Splunk field names are case-sensitive.
func ParseSignal(name string) (Signal, bool) {
	for s, n := range signalNames {
		if n == name {
			return Signal(s), true
		}
	}
	return 0, false
}
