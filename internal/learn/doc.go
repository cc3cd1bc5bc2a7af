// Package learn is Splunk's baseline search ("Baseline Of Kubernetes Container Network IO
// Ratio", spec detection.md sections 1, 6 and 7) as a streaming learner over closed
// pod-spans, with the learned CSV table, its exact merge, diff and saved state. DESIGN.md
// has the semantics, the streaming rules and the file format.
package learn
