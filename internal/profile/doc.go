// Package profile holds the pure arithmetic of the recommended detection profile
// (issue 8): what is learned per key, how a pod-span is scored, and when anomalous
// spans make an event. It has no pipeline or engine types, so the engine, the learner
// and `k8snetio eval` share one implementation, and every rule can be tested on fixed
// numbers.
//
// # Why the profile differs from parity
//
// On a day of real traffic (Train Ticket, 46 single-replica pods, 60 s samples) parity
// raised false events on about 5 % of pod-hours and caught only some x10 attacks. The
// false events came from ratios that rose because their denominator fell (an idle
// sample, a quieter hour), from isolated one-sample bursts adding up over an hour, and
// from hours-long surges of one direction. The profile answers each:
//
//   - Model/Usual: per-key histograms of the inbound and outbound rates (bytes/s) and of
//     ln(outbound/inbound). Fixed log buckets merge exactly across collectors and days.
//   - Score: the ln ratio must rise by a clamped robust amount (median/MAD, heavy-tail
//     proof), and its numerator must be at least Gate x its usual (median) rate and
//     HighGate x its high (95th percentile) rate: exfiltration raises outbound, a
//     download raises inbound; a ratio whose numerator did not rise is neither, and a
//     pod whose inbound surges daily keeps doing so without an event.
//   - Recent/WithRecent: the gates compare with max(learned usual, the pod's median
//     rate over the last 30 minutes), so an hours-long surge the learning never saw
//     makes an event at its onset only, while a 10-minute attack does not move it.
//   - Trail/Rule: more than a minute of anomalous time within five minutes, a span
//     counting for the time its data covers (capped at a minute), so the rule means the
//     same at 10 s and 60 s scrapes and one burst sample never suffices.
//   - ServiceShift: most replicas of a service anomalous together is a deploy or a load
//     change, reported once for the service, not once per pod.
//
// Typical use, per key learned and per pod-span scored:
//
//	var m profile.Model
//	for _, s := range learningSpans {
//		m.Observe(s.InBps, s.OutBps)
//	}
//	u, ok := m.Usual()
//	// ... per pod, in data-time order (one Recent and one Trail per pod and direction):
//	li, _ := recentIn.Level(spanEnd) // 0 when not available: ignored
//	lo, _ := recentOut.Level(spanEnd)
//	v := profile.Score(inBps, outBps, u.WithRecent(li, lo), profile.Recommended())
//	recentIn.Add(spanEnd, inBytes, covered)
//	recentOut.Add(spanEnd, outBytes, covered)
//	if v.Exfiltration.Anomalous && trailOut.Add(spanEnd, covered, profile.RecommendedRule()) {
//		// emit once per pod and window, unless ServiceShift says the service moved
//	}
package profile
