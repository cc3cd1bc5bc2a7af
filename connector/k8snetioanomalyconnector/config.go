package k8snetioanomalyconnector // import "github.com/k8snetio/k8snetioanomaly/connector/k8snetioanomalyconnector"

import (
	"go.opentelemetry.io/collector/confmap"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

// engineConfig is embedded under an unexported name: the collector's config validation walks
// exported fields too, and an exported engine.Config would have every error reported twice.
type engineConfig = engine.Config

// Config is the detection's configuration, the same keys as the processor's.
type Config struct {
	engineConfig `mapstructure:",squash"`
}

// Validate is the engine's: it names each bad field.
func (c *Config) Validate() error { return c.engineConfig.Validate() }

// Unmarshal applies the named profile's defaults before decoding, so that explicit keys win.
func (c *Config) Unmarshal(conf *confmap.Conf) error {
	if err := c.ApplyProfile(conf); err != nil {
		return err
	}
	return conf.Unmarshal(c)
}

func createDefaultConfig() *Config {
	return &Config{engineConfig: engine.DefaultConfig()}
}
