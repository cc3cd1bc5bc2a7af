package k8snetioanomalyprocessor // import "github.com/k8snetio/k8snetioanomaly/processor/k8snetioanomalyprocessor"

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/confmap"

	"github.com/k8snetio/k8snetioanomaly/internal/engine"
)

// engineConfig is embedded under an unexported name: the collector's config validation walks
// exported fields too, and an exported engine.Config would have every error reported twice.
type engineConfig = engine.Config

// Config is the detection's configuration (the engine's keys, at the top level); the connector
// takes the same keys.
type Config struct {
	engineConfig `mapstructure:",squash"`

	// EventQueueSize is how many batches of events wait for the logs pipeline; when it is full,
	// further events are dropped and counted, so that the metrics pipeline never waits for it.
	EventQueueSize int `mapstructure:"event_queue_size"`
}

// Validate is the engine's, plus the processor's own key: it names each bad field.
func (c *Config) Validate() error {
	errs := []error{c.engineConfig.Validate()}
	if c.EventQueueSize < 1 {
		errs = append(errs, fmt.Errorf("event_queue_size: must be at least 1, got %d", c.EventQueueSize))
	}
	return errors.Join(errs...)
}

// defaultEventQueueSize holds a burst of window closes (one batch each) while HEC is slow.
const defaultEventQueueSize = 1000

// Unmarshal applies the named profile's defaults before decoding, so that explicit keys win.
func (c *Config) Unmarshal(conf *confmap.Conf) error {
	if err := c.ApplyProfile(conf); err != nil {
		return err
	}
	return conf.Unmarshal(c)
}

func createDefaultConfig() *Config {
	return &Config{engineConfig: engine.DefaultConfig(), EventQueueSize: defaultEventQueueSize}
}
