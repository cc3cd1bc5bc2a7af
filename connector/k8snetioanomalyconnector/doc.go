//go:generate go tool mdatagen metadata.yaml

// Package k8snetioanomalyconnector is the detection "Kubernetes Anomalous Inbound to Outbound
// Network IO Ratio" as a connector: it reads the pod network metrics at the end of a metrics
// pipeline and emits the anomaly events at the start of a logs pipeline.
package k8snetioanomalyconnector // import "github.com/k8snetio/k8snetioanomaly/connector/k8snetioanomalyconnector"
