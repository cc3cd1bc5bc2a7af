package engine

import "regexp"

type rulePattern struct{ field, pattern string }

// patterns lists the rule's set fields in a fixed order.
func (r ExcludeRule) patterns() []rulePattern {
	var out []rulePattern
	for _, p := range []rulePattern{
		{"cluster", r.Cluster}, {"namespace", r.Namespace}, {"node", r.Node}, {"pod", r.Pod}, {"service", r.Service},
	} {
		if p.pattern != "" {
			out = append(out, p)
		}
	}
	return out
}

// exclusions is the compiled filter macro; a pod matching any rule is not scored.
type exclusions []compiledRule

// compiledRule holds one regexp per field; nil means the field is not constrained.
type compiledRule struct {
	cluster, namespace, node, pod, service *regexp.Regexp
}

func compileExclusions(rules []ExcludeRule) (exclusions, error) {
	out := make(exclusions, 0, len(rules))
	for _, r := range rules {
		var c compiledRule
		for _, p := range r.patterns() {
			re, err := regexp.Compile(p.pattern)
			if err != nil {
				return nil, err
			}
			switch p.field {
			case "cluster":
				c.cluster = re
			case "namespace":
				c.namespace = re
			case "node":
				c.node = re
			case "pod":
				c.pod = re
			case "service":
				c.service = re
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func (x exclusions) match(g groupKey) bool {
	for _, r := range x {
		if matches(r.cluster, g.cluster) && matches(r.namespace, g.namespace) && matches(r.node, g.node) &&
			matches(r.pod, g.pod) && matches(r.service, g.service) {
			return true
		}
	}
	return false
}

func matches(re *regexp.Regexp, s string) bool { return re == nil || re.MatchString(s) }
