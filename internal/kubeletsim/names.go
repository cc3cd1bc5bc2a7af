package kubeletsim

import (
	"fmt"
	"regexp"
	"strconv"
)

// ServicePattern is the detection's default `replace(k8s.pod.name, pattern, "")`.
const ServicePattern = `-\w{5}$|-[abcdef0-9]{8,10}-\w{5}$`

var serviceSuffix = regexp.MustCompile(ServicePattern)

// DetectionService is the service name the detection derives from a pod name; Go's
// regexp is leftmost-first like Splunk's PCRE, so the alternation resolves the same way.
func DetectionService(podName string) string {
	return serviceSuffix.ReplaceAllLiteralString(podName, "")
}

// nameAlphabet is Kubernetes' utilrand alphabet (no vowels, no 0/1/3): generateName
// suffixes use it, and SafeEncodeString maps the pod-template-hash through it.
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// safeEncode is Kubernetes' rand.SafeEncodeString.
func safeEncode(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = nameAlphabet[int(c)%len(nameAlphabet)]
	}
	return string(b)
}

// podTemplateHash is shaped like the ReplicaSet controller's: a uint32 written in decimal
// and safe-encoded. Shorter than 8 characters (a uint32 below 10^7, rare) would not match
// the detection's `[abcdef0-9]{8,10}`, so such draws are skipped.
func podTemplateHash(seed uint64, cluster, namespace, workload string) string {
	subject := stringHash("pod-template-hash", cluster, namespace, workload)
	for attempt := int64(0); ; attempt++ {
		s := safeEncode(strconv.FormatUint(uint64(uint32(noiseHash(seed, subject, attempt, 0))), 10))
		if len(s) >= 8 {
			return s
		}
	}
}

// nameSuffix is a 5-character generateName suffix.
func nameSuffix(h uint64) string {
	b := make([]byte, 5)
	for i := range b {
		b[i] = nameAlphabet[h%uint64(len(nameAlphabet))]
		h /= uint64(len(nameAlphabet))
	}
	return string(b)
}

// podUID is a random-looking version-4 UUID, as the API server assigns.
func podUID(seed uint64, cluster, namespace, name string) string {
	subject := stringHash("uid", cluster, namespace, name)
	hi := noiseHash(seed, subject, 0, streamUID)
	lo := noiseHash(seed, subject, 1, streamUID)
	hi = hi&^0xf000 | 0x4000                        // version 4
	lo = lo&^(0xc000<<48) | 0x8000<<48              // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", // 8-4-4-4-12 hex
		hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// podNames names the pods of one workload; for a daemonset there is one per node.
func podNames(seed uint64, cluster string, svc *ServiceConfig, nodes int) []string {
	switch svc.Kind {
	case KindStatefulSet:
		names := make([]string, svc.Replicas)
		for i := range names {
			names[i] = svc.Name + "-" + strconv.Itoa(i)
		}
		return names
	case KindDaemonSet:
		return suffixedNames(seed, cluster, svc, svc.Name, nodes)
	default:
		return suffixedNames(seed, cluster, svc, svc.Name+"-"+podTemplateHash(seed, cluster, svc.Namespace, svc.Name), svc.Replicas)
	}
}

// suffixedNames draws n distinct generateName suffixes for prefix.
func suffixedNames(seed uint64, cluster string, svc *ServiceConfig, prefix string, n int) []string {
	subject := stringHash("suffix", cluster, svc.Namespace, svc.Name)
	seen := map[string]bool{}
	names := make([]string, 0, n)
	for attempt := int64(0); len(names) < n; attempt++ {
		name := prefix + "-" + nameSuffix(noiseHash(seed, subject, attempt, 0))
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}
