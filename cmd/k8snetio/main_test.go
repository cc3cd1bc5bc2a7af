package main

import (
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := runArgs(t, "", args...)
		if r.code != exitOK || !strings.HasPrefix(r.stdout, "Usage: k8snetio <command>") || !strings.Contains(r.stdout, "replay") || r.stderr != "" {
			t.Errorf("%v: exit %d, stdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
		}
	}
	for _, args := range [][]string{{"replay", "-h"}, {"replay", "--help"}, {"help", "replay"}} {
		r := runArgs(t, "", args...)
		if r.code != exitOK || r.stdout != replayUsage || r.stderr != "" {
			t.Errorf("%v: exit %d, stdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args      []string
		stderrHas string
	}{
		{nil, "Usage: k8snetio <command>"},
		{[]string{"replya"}, `unknown command "replya"`},
		{[]string{"help", "replya"}, `unknown command "replya"`},
	} {
		r := runArgs(t, "", tt.args...)
		if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, tt.stderrHas) {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s", tt.args, r.code, r.stdout, r.stderr)
		}
	}
}
