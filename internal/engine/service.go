package engine

import "regexp"

// serviceNamer is the search's `eval service = replace('k8s.pod.name', pattern, "")`.
// Go's regexp is leftmost-first like PCRE, so alternations resolve as in Splunk.
type serviceNamer struct{ re *regexp.Regexp }

func newServiceNamer(pattern string) (serviceNamer, error) {
	re, err := regexp.Compile(pattern)
	return serviceNamer{re: re}, err
}

func (s serviceNamer) service(podName string) string {
	return s.re.ReplaceAllLiteralString(podName, "")
}
