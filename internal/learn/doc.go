// Package learn learns the per-service baseline from closed pod-spans as Splunk's "Baseline Of
// Kubernetes Container Network IO Ratio" search does (spec detection.md, sections 1, 6 and 7).
//
// # Semantics
//
// In the default parity mode the unit is the key-span, as in the search's
// `stats ... by key _time`: per key (cluster:service) and span, inbound is the mean of
// inbound over the key's pods that reported inbound in that span, outbound likewise; then
// inbound:outbound = inbound/outbound when outbound > 0 and outbound:inbound =
// outbound/inbound when inbound > 0 (otherwise undefined, the search's null). Per key and
// signal the table holds the mean and the sample standard deviation (n-1; a single value
// has stdev 0, as Splunk's stdev) over the spans where the signal is defined; count is the
// number of key-spans with at least one observation (the search's count of rows; an
// Observe with neither direction is no observation) and last_seen the Unix seconds of the
// newest such span's start. The optional volume signals
// inbound_network_io and outbound_network_io are the per-span means themselves.
//
// Per-pod mode (Config.PerPod) is a deliberate improvement over the search: the search
// learns the distribution of per-service means but the detection scores single pods, and
// a mean over several pods varies less than one pod does, so parity baselines are too
// narrow for services with many pods. In per-pod mode the unit is the pod-span the
// detection scores: every pod-span with both directions observed is one sample (the
// detection scores nothing else), the key is still cluster:service, count is the number
// of such pod-spans and last_seen the newest span holding one.
//
// # Streaming
//
// Observe buffers a key-span's pods until Advance moves the data-time watermark past the
// span, then the key-span is folded into a Welford accumulator (n, mean, M2 per signal)
// of its UTC day. Observations for a span already folded are late: they are dropped and
// counted (Stats.Late), because folding them separately would count the span twice.
// Pods are folded in name order, so a replay gives bit-identical output whatever the
// arrival order. The table covers the newest Days days (default 30, like the search's
// -30d): day accumulators combine with Chan et al.'s pairwise formula, and a day older
// than newest-day - Days + 1 is dropped when a newer day is folded. "Newest day" is data
// time, the newest folded span's day, so an idle collector never ages its baseline out.
//
// # Files
//
// The CSV columns are, in this order:
//
//	key,avg_inbound:outbound,avg_outbound:inbound,stdev_inbound:outbound,stdev_outbound:inbound,
//	[avg_inbound_network_io,avg_outbound_network_io,stdev_inbound_network_io,stdev_outbound_network_io,]
//	count,last_seen[,count_inbound:outbound,count_outbound:inbound[,count_inbound_network_io,count_outbound_network_io]]
//
// The section 7 ratio columns come first, unchanged; the volume block follows in the same
// avgs-then-stdevs order (Splunk's `stats avg(*) stdev(*)`); then count and last_seen;
// by default that is all, exactly the search's lookup. With Config.SignalCounts there follows
// one count_<S> per signal: the number of values behind that signal, named as
// Splunk's count(<S>) would name it. These are needed because a signal's n is smaller
// than count whenever a direction was missing or zero in some span, and
// M2 = stdev²·(n-1) can only be rebuilt, and files merged exactly, with the true n. They
// come last so that the section 7 layout stays a prefix; scoring ignores them (it reads
// only the avg_/stdev_ pairs) and so does Splunk's detection search. ReadCSV also reads
// files without them, such as exports of the Splunk lookup; it then assumes n = count for
// every defined signal (approximate where directions were missing) and writes the file
// back without them. A stdev read is also kept with its accumulator and written back as
// read while that accumulator is unchanged (M2/(n-1) cannot reach every double), so
// read-then-write is byte-identical either way.
//
// With Config.Profile (the recommended profile, internal/profile) the learner also keeps
// a profile.Model per key and day from ObserveRates, every pod-span with both directions
// pooled per key whatever PerPod says, and the table ends with the profile's columns
// (baseline.ProfileColumns):
//
//	usual_inbound_bps,usual_outbound_bps,high_inbound_bps,high_outbound_bps,
//	median_ln_outbound:inbound,mad_ln_outbound:inbound,count_pod_spans,
//	hist_inbound_bps,hist_outbound_bps,hist_outbound:inbound
//
// the model's Usual (blank when it has none a loader could read), its pod-span count, and
// its three histograms as profile.Hist text (no comma or quote; at most one
// "<bucket>:<count>" per bucket a finite float64 can fill). ReadCSV rebuilds the model
// exactly from the histograms, refusing any that no learner could have written, and
// computes the figures from it again on write; Merge adds the histograms, so merged
// files hold exactly the profile learned from all their pod-spans. Diff ignores them.
//
// Merge combines baselines learned from disjoint data (other days, other spans, other
// clusters) exactly, up to rounding. Baselines of the same spans from several per-node
// learners merge exactly in per-pod mode, whose unit is the pod-span; in parity mode each
// learner's key-span means cover only its own node's pods, so the merge treats one
// service's span on two nodes as two spans (count adds up) rather than one mean over all
// pods. Run one parity learner per cluster, or use per-pod mode, where that matters.
//
// # State
//
// MarshalDays and RestoreDay persist the day accumulators, one entry per UTC day, for
// the collector's storage extension, so a restart keeps up to Days days of learning.
// Entries are versioned: version 2 added the profile's models; version 1 entries restore
// with empty ones. Models restored are kept (and persisted again) even by a learner
// without Config.Profile, so switching the profile off and on loses no day.
package learn
