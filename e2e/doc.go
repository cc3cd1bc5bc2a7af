// Package e2e tests the ocb-built collector end to end, from the real kubeletstats receiver to
// the real splunk_hec exporter. The collector scrapes the simulated kubelet (bin/kubeletsim),
// runs the k8s_netio_anomaly processor or connector, and sends its events into its own
// splunk_hec receiver. `make test` builds both binaries and points the tests at them through
// K8SNETIO_COLLECTOR and K8SNETIO_BIN; without those variables the tests skip.
package e2e
