package baseline

import "github.com/k8snetio/k8snetioanomaly/internal/profile"

// Usual is a stand-in until the profile columns are parsed.
func (b *Baseline) Usual(key string) (profile.Usual, bool) { return profile.Usual{}, false }
