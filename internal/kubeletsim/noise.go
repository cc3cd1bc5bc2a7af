package kubeletsim

import "hash/fnv"

// Noise streams: independent draws for the same seed, pod and step.
const (
	streamRx uint64 = iota + 1
	streamTx
	streamLoad
	streamCPU
	streamMemory
	streamSpreadIn
	streamSpreadOut
	streamPhase
	streamUptime
	streamContainerDelay
	streamUID
	streamNodeUptime
	streamDriftRx
	streamDriftTx
	streamIdle
	streamSpike
	streamSpikeSize
	streamIdleDepthRx
	streamIdleDepthTx
)

// mix64 is the splitmix64 finalizer: a cheap bijection whose output bits all depend on all input bits.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// noiseHash is the random source of the whole simulation: a pure function of its inputs,
// so any step can be computed in any order and replays are exact.
func noiseHash(seed, subject uint64, step int64, stream uint64) uint64 {
	h := mix64(seed ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ subject)
	h = mix64(h ^ uint64(step)*0xd6e8feb86659fd93)
	return mix64(h ^ stream)
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// bell maps a hash to [-1, 1], bell-shaped (mean of three uniforms, rescaled): bounded
// tails keep a normal pod's ratio from ever straying far, unlike Gaussian or log-normal noise.
func bell(h uint64) float64 {
	const mask = 1<<21 - 1
	sum := float64(h&mask) + float64(h>>21&mask) + float64(h>>42&mask)
	return (sum/float64(mask) - 1.5) / 1.5
}

// stringHash identifies a pod or a name in noiseHash.
func stringHash(parts ...string) uint64 {
	f := fnv.New64a()
	for _, p := range parts {
		f.Write([]byte(p))
		f.Write([]byte{0}) // separator, so ("ab","c") and ("a","bc") differ
	}
	return f.Sum64()
}
