// Package profile is the arithmetic of the recommended detection profile: what is learned
// per key (Model, Usual), how a pod-span is scored (Score, Recent) and when anomalous spans
// make an event (Trail, ServiceShift). It knows no pipeline or engine types, so the engine,
// the learner and `k8snetio eval` share it; DESIGN.md maps each rule to its measurement.
package profile
