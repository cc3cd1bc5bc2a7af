//go:generate go tool mdatagen metadata.yaml

// Package k8snetioanomalyprocessor is the detection "Kubernetes Anomalous Inbound to Outbound
// Network IO Ratio" as a processor: in a metrics pipeline it passes metrics through unchanged and
// feeds the detection; the same component ID listed in a logs pipeline emits the anomaly events.
package k8snetioanomalyprocessor // import "github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor"
