package k8snetioanomalyconnector // import "github.com/k8snetio/k8snetioanomaly/connector/k8snetioanomalyconnector"

import (
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

func createDefaultConfig() *Config {
	return &Config{engineConfig: engine.DefaultConfig()}
}
