// Package e2e holds the end-to-end tests: the ocb-built collector scrapes the simulated kubelet
// (bin/kubeletsim) with the real kubeletstats receiver, runs the k8s_netio_anomaly processor or
// connector, and sends its events through the real splunk_hec exporter into the collector's own
// splunk_hec receiver. `make test` builds both binaries and points the tests at them through
// K8SNETIO_COLLECTOR and K8SNETIO_BIN; without those variables the tests skip.
package e2e
