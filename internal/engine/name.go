package engine

// Kubernetes names reach baseline keys, learned CSV files and HEC fields, and any pod can send
// OTLP to a gateway: only names of the forms Kubernetes itself allows are tracked.

// validPodName is a DNS-1123 subdomain: at most 253 lowercase alphanumerics, '-' and '.', starting
// and ending with an alphanumeric. Node names have the same form.
func validPodName(s string) bool { return dns1123(s, 253, true, false) }

// validNodeName is a node name, a DNS-1123 subdomain; upper case is let through because the
// host.name fallback is a host name, which may have it.
func validNodeName(s string) bool { return dns1123(s, 253, true, true) }

// validNamespace is a DNS-1123 label (at most 63, no dots); a missing namespace is allowed, as
// the search does not need one.
func validNamespace(s string) bool { return s == "" || dns1123(s, 63, false, false) }

// validClusterName allows what cluster names are in practice (k8s.cluster.name is free text set
// by a processor): letters of either case, digits, '-', '_' and '.', starting with a letter or
// digit; nothing that a CSV cell, a log line or a spreadsheet could take for something else.
func validClusterName(s string) bool {
	if s == "" || len(s) > 253 || !alnum(s[0], true) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c, true) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// validService allows what the service pattern can leave of a valid pod name: its characters.
func validService(s string) bool {
	if len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c, false) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// validUID allows what Kubernetes UIDs look like (RFC 4122 text), and nothing unbounded.
func validUID(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c, true) && c != '-' {
			return false
		}
	}
	return true
}

func dns1123(s string, maxLen int, dots, upper bool) bool {
	if s == "" || len(s) > maxLen || !alnum(s[0], upper) || !alnum(s[len(s)-1], upper) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !alnum(c, upper) && c != '-' && (c != '.' || !dots) {
			return false
		}
	}
	return true
}

func alnum(c byte, upper bool) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || upper && c >= 'A' && c <= 'Z'
}
