// Package kubeletsim simulates the kubelet's read-only stats API of a made-up cluster for
// the demo and the end-to-end tests: the real kubeletstats receiver scrapes its pod
// counters, and Record writes the same data without serving. DESIGN.md has the naming, the
// traffic model, the patterns of real traffic and the incidents.
package kubeletsim
