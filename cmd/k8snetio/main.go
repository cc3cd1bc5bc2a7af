// Command k8snetio runs the detection (internal/engine) outside the collector, on recorded
// files: replay, baseline build|merge|diff, events, eval and import-rates (`k8snetio help`).
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one subcommand; run gets the arguments after the subcommand's name and returns the exit status.
type command struct {
	name, summary string
	run           func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order the usage shows them.
var commands = []command{
	{"replay", "run the detection over recorded metrics and print its events", runReplay},
	{"baseline", "learn baselines from recorded metrics, merge and compare them", runBaseline},
	{"events", "print anomaly events from a recorded logs file or standard input", runEvents},
	{"eval", "back-test configs against labelled or injected incidents: recall, false events, latency", runEval},
	{"import-rates", "turn a CSV of per-pod receive/transmit rates into recorded metrics", runImportRates},
}

// Exit statuses: a usage error is the command line's fault, a failure the files'.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole program without the process around it, so tests call it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && name == "help" {
			if c, ok := findCommand(rest[0]); ok {
				return c.run([]string{"-h"}, stdin, stdout, stderr)
			}
			fmt.Fprintf(stderr, "k8snetio help: unknown command %q\n\n%s", rest[0], usage())
			return exitUsage
		}
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	c, ok := findCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "k8snetio: unknown command %q\n\n%s", name, usage())
		return exitUsage
	}
	return c.run(rest, stdin, stdout, stderr)
}

func findCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func usage() string {
	var b strings.Builder
	b.WriteString("Usage: k8snetio <command> [arguments]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(&b, "  %-10s %s\n", "help", "print this help, or a command's with 'k8snetio help <command>'")
	b.WriteString("\nRun 'k8snetio <command> -h' for a command's options.\n")
	return b.String()
}
