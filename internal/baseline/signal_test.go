package baseline

import "testing"

func TestSignalNames(t *testing.T) {
	tests := []struct {
		sig   Signal
		name  string
		ratio bool
	}{
		{InboundOutbound, "inbound:outbound", true},
		{OutboundInbound, "outbound:inbound", true},
		{InboundIO, "inbound_network_io", false},
		{OutboundIO, "outbound_network_io", false},
	}
	if len(tests) != int(NumSignals) {
		t.Fatalf("table covers %d signals, NumSignals = %d", len(tests), NumSignals)
	}
	for _, tt := range tests {
		if got := tt.sig.String(); got != tt.name {
			t.Errorf("Signal(%d).String() = %q, want %q", tt.sig, got, tt.name)
		}
		if got := tt.sig.IsRatio(); got != tt.ratio {
			t.Errorf("%s.IsRatio() = %v, want %v", tt.name, got, tt.ratio)
		}
		got, ok := ParseSignal(tt.name)
		if !ok || got != tt.sig {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v, true", tt.name, got, ok, tt.sig)
		}
	}
}

func TestParseSignalRejects(t *testing.T) {
	for _, name := range []string{"", "Inbound:Outbound", "inbound", "network_io", "inbound:outbound ", "NumSignals"} {
		if s, ok := ParseSignal(name); ok {
			t.Errorf("ParseSignal(%q) = %v, true; want false", name, s)
		}
	}
	if got := NumSignals.String(); got != "Signal(4)" {
		t.Errorf("NumSignals.String() = %q, want %q", got, "Signal(4)")
	}
	if NumSignals.IsRatio() {
		t.Error("NumSignals.IsRatio() = true")
	}
}
