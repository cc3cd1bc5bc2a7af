package engine

import (
	"encoding/binary"
	"unsafe"
)

// podID is the 16 bytes of a k8s.pod.uid written as Kubernetes writes it, a lowercase RFC 4122
// UUID (xxxxxxxx-xxxx-xxxx-[89ab]xxx-xxxxxxxxxxxx). A pod so keyed keeps no copy of its uid: it
// is written again from these bytes when saved.
type podID [16]byte

// parseUID reads a canonical uid; any other form (upper case, no dashes, another variant) is not
// one, and its pod is keyed by the uid as it came. It reads eight digits at a time, without a
// branch per digit: it runs for every pod of every batch.
func parseUID(uid string) (id podID, ok bool) {
	if len(uid) != 36 || uid[8] != '-' || uid[13] != '-' || uid[18] != '-' || uid[23] != '-' {
		return id, false
	}
	u := unsafe.Slice(unsafe.StringData(uid), 36) // read in words, not byte by byte
	le := binary.LittleEndian
	a, okA := hexWord(le.Uint64(u[0:8]))
	b, okB := hexWord(uint64(le.Uint32(u[9:13])) | uint64(le.Uint32(u[14:18]))<<32)
	c, okC := hexWord(uint64(le.Uint32(u[19:23])) | uint64(le.Uint32(u[24:28]))<<32)
	d, okD := hexWord(le.Uint64(u[28:36]))
	le.PutUint32(id[0:4], a)
	le.PutUint32(id[4:8], b)
	le.PutUint32(id[8:12], c)
	le.PutUint32(id[12:16], d)
	return id, okA && okB && okC && okD && id[8]&0xc0 == 0x80 // the RFC 4122 variant, as Kubernetes makes
}

// hexWord reads eight lowercase hexadecimal digits, one per byte of x with the first in the low
// byte, into four bytes, the first in the low byte.
func hexWord(x uint64) (uint32, bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// atLeast(n) has a byte's high bit set where that byte is n or more (every byte is below 0x80).
	atLeast := func(n uint64) uint64 { return (x + (0x80-n)*ones) & highs }
	digit := atLeast('0') &^ atLeast('9'+1)
	letter := atLeast('a') &^ atLeast('f'+1)
	valid := x&highs == 0 && digit|letter == highs
	v := x&(0x0f*ones) + (x>>6&ones)*9 // its low four bits, plus 9 for a letter ('a' is 0x61: bit 6)
	v = (v<<4 | v>>8) & 0x00ff00ff00ff00ff
	v = (v | v>>8) & 0x0000ffff0000ffff
	v = v | v>>16
	return uint32(v), valid
}

// String is the uid the id was read from.
func (id podID) String() string {
	const digits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, x := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = digits[x>>4], digits[x&0xf]
		j += 2
	}
	return string(b[:])
}

// nameKey is the key of a pod without a canonical uid: its uid as it came, or, with no uid, its
// cluster, namespace and name after a NUL, which no valid uid has, so the two never collide.
func nameKey(uid, cluster, namespace, name string) string {
	if uid != "" {
		return uid
	}
	return "\x00" + cluster + "\x00" + namespace + "\x00" + name
}

// podIndex finds the engine's pods: by the bytes of a canonical uid, as nearly every pod is
// found, or by nameKey.
type podIndex struct {
	byUID  podTable
	byName map[string]*pod
}

func newPodIndex() podIndex {
	return podIndex{byUID: newPodTable(), byName: map[string]*pod{}}
}

// find returns the pod of a uid, or of the names when uid is "", or nil.
func (x *podIndex) find(uid, cluster, namespace, name string) *pod {
	if id, ok := parseUID(uid); ok {
		return x.byUID.find(id)
	}
	return x.byName[nameKey(uid, cluster, namespace, name)]
}

func (x *podIndex) len() int { return x.byUID.len() + len(x.byName) }

// has says whether a pod with p's identity is indexed.
func (x *podIndex) has(p *pod) bool {
	if p.named() {
		return x.byName[p.extra.key] != nil
	}
	return x.byUID.find(p.id) != nil
}

func (x *podIndex) add(p *pod) {
	if p.named() {
		x.byName[p.extra.key] = p
	} else {
		x.byUID.add(p)
	}
}

func (x *podIndex) remove(p *pod) {
	if p.named() {
		delete(x.byName, p.extra.key)
	} else {
		x.byUID.remove(p)
	}
}
