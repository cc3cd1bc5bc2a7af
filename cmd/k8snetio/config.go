package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.uber.org/zap"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

// componentType is the component's type in collector configs: `k8s_netio_anomaly` or `k8s_netio_anomaly/NAME`.
const componentType = "k8s_netio_anomaly"

// collectorSections are the top-level keys of a whole collector config; none of them is a component key.
var collectorSections = []string{"receivers", "processors", "exporters", "connectors", "extensions", "service"}

// usageError is a problem the command line must fix (exit status 2), as opposed to a bad file (1).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// configOptions are the command-line settings that shape how the config file is read.
type configOptions struct {
	path      string // the YAML file
	component string // ID (optionally "processor/ID" or "connector/ID") picked from a whole collector config
	baseline  string // overrides baseline.path when set; relative to the working directory
}

// loadConfig reads the component's config the way the collector would: YAML, ${env:VAR} expansion,
// decoding over the defaults with unknown keys as errors, then validation.
func loadConfig(opts configOptions, logger *zap.Logger) (engine.Config, error) {
	cfg := engine.DefaultConfig()
	data, err := os.ReadFile(opts.path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	section, where, err := componentSection(opts, data)
	if err != nil {
		return cfg, err
	}
	conf, err := expandEnv(section, logger)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", where, err)
	}
	// The profile's defaults first, so that the file's explicit keys win over them.
	if err := cfg.ApplyProfile(conf); err != nil {
		return cfg, fmt.Errorf("%s: %w", where, err)
	}
	if err := conf.Unmarshal(&cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", where, err)
	}
	// A relative path in the file means "next to this file", so a config works from any directory.
	if p := cfg.Baseline.Path; p != "" && !filepath.IsAbs(p) {
		cfg.Baseline.Path = filepath.Join(filepath.Dir(opts.path), p)
	}
	if opts.baseline != "" {
		cfg.Baseline.Path = opts.baseline
	}
	if err := cfg.Validate(); err != nil {
		msg := fmt.Sprintf("%s: invalid configuration:\n%s", where, indent(err.Error()))
		if cfg.Baseline.Path == "" {
			msg += "\n  (set baseline.path in the config or pass --baseline FILE)"
		}
		return cfg, errors.New(msg)
	}
	return cfg, nil
}

// componentSection returns the component's raw keys and a description of where they came from, for messages.
func componentSection(opts configOptions, data []byte) (map[string]any, string, error) {
	retrieved, err := confmap.NewRetrievedFromYAML(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", opts.path, err)
	}
	raw, _ := retrieved.AsRaw()
	var top map[string]any
	switch v := raw.(type) {
	case nil:
		top = map[string]any{}
	case map[string]any:
		top = v
	default:
		// AsConf explains why (for text that is not YAML, the YAML parser's message and line).
		_, err := retrieved.AsConf()
		return nil, "", fmt.Errorf("%s: %w", opts.path, err)
	}
	if !isCollectorConfig(top) {
		if opts.component != "" {
			return nil, "", usageErrorf("--component %s: %s is not a collector config (it has no processors: or connectors: section); it holds the component's keys at top level",
				opts.component, opts.path)
		}
		return top, opts.path, nil
	}
	c, err := pickComponent(opts, top)
	if err != nil {
		return nil, "", err
	}
	where := fmt.Sprintf("%s: %s::%s", opts.path, c.section, c.id)
	switch v := c.value.(type) {
	case nil:
		return map[string]any{}, where, nil
	case map[string]any:
		return v, where, nil
	default:
		return nil, "", fmt.Errorf("%s: want a map of settings, got %T", where, c.value)
	}
}

func isCollectorConfig(top map[string]any) bool {
	for _, s := range collectorSections {
		if _, ok := top[s]; ok {
			return true
		}
	}
	return false
}

// candidate is one k8s_netio_anomaly entry of a collector config.
type candidate struct {
	section string // "processors" or "connectors"
	id      string
	value   any
}

func (c candidate) String() string { return strings.TrimSuffix(c.section, "s") + "/" + c.id }

// pickComponent finds the component's entry; several need --component, because guessing would score with the wrong settings.
func pickComponent(opts configOptions, top map[string]any) (candidate, error) {
	var all []candidate
	for _, section := range []string{"processors", "connectors"} {
		v, ok := top[section]
		if !ok || v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return candidate{}, fmt.Errorf("%s: %s: want a map of components, got %T", opts.path, section, v)
		}
		for id, value := range m {
			if typ, _, _ := strings.Cut(id, "/"); typ == componentType {
				all = append(all, candidate{section: section, id: id, value: value})
			}
		}
	}
	slices.SortFunc(all, func(a, b candidate) int { return strings.Compare(a.String(), b.String()) })
	names := make([]string, len(all))
	for i, c := range all {
		names[i] = c.String()
	}

	if opts.component == "" {
		switch len(all) {
		case 0:
			return candidate{}, fmt.Errorf("%s: no %s processor or connector in this collector config", opts.path, componentType)
		case 1:
			return all[0], nil
		}
		return candidate{}, usageErrorf("%s has several %s components (%s): choose one with --component ID",
			opts.path, componentType, strings.Join(names, ", "))
	}

	want, kind := opts.component, ""
	for _, k := range []string{"processor", "connector"} {
		if rest, ok := strings.CutPrefix(want, k+"/"); ok {
			want, kind = rest, k
		}
	}
	var found []candidate
	for _, c := range all {
		if c.id == want && (kind == "" || c.section == kind+"s") {
			found = append(found, c)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return candidate{}, usageErrorf("--component %s: %s has it both as a processor and as a connector: say processor/%s or connector/%s",
			opts.component, opts.path, want, want)
	case len(all) == 0:
		return candidate{}, usageErrorf("--component %s: %s has no %s processor or connector", opts.component, opts.path, componentType)
	}
	return candidate{}, usageErrorf("--component %s: not in %s, which has %s", opts.component, opts.path, strings.Join(names, ", "))
}

// expandEnv resolves ${env:VAR} and ${VAR} in the component's keys with the collector's own resolver,
// so values such as node_name: ${env:K8S_NODE_NAME} mean what they mean in the collector. Only this
// section is resolved: references elsewhere in a collector config (secrets, files) do not matter here.
func expandEnv(section map[string]any, logger *zap.Logger) (*confmap.Conf, error) {
	resolver, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs: []string{sectionScheme + ":component"},
		ProviderFactories: []confmap.ProviderFactory{
			confmap.NewProviderFactory(func(confmap.ProviderSettings) confmap.Provider { return sectionProvider{section} }),
			envprovider.NewFactory(),
		},
		DefaultScheme:    "env",
		ProviderSettings: confmap.ProviderSettings{Logger: logger},
	})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	conf, err := resolver.Resolve(ctx)
	_ = resolver.Shutdown(ctx) // nothing is watched, so there is nothing to release or fail
	return conf, err
}

const sectionScheme = "k8snetio-section"

// sectionProvider hands the already-parsed section to the resolver.
type sectionProvider struct{ section map[string]any }

func (p sectionProvider) Retrieve(context.Context, string, confmap.WatcherFunc) (*confmap.Retrieved, error) {
	return confmap.NewRetrieved(p.section)
}

func (sectionProvider) Scheme() string { return sectionScheme }

func (sectionProvider) Shutdown(context.Context) error { return nil }

// indent puts each line of a multi-line error two spaces in, under its heading.
func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
