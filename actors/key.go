package actors

import "hash/fnv"

// MaxIDLen bounds every id that becomes part of a NATS subject.
const MaxIDLen = 64

// ValidID reports whether s may be used as a project or item id: 1 to
// MaxIDLen characters of [A-Za-z0-9_-]. Ids reach NATS subjects, so a dot, a
// wildcard or a space must never pass.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IDByte(s[i]) {
			return false
		}
	}
	return true
}

// IDByte reports whether c may appear in an id (ValidID).
func IDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// ItemID names one item (a render or an SDK content item) of one project.
type ItemID struct {
	Project string
	Item    string
}

func (k ItemID) String() string { return k.Project + "/" + k.Item }

// Partition returns hash(project, item) mod n: the shard that owns the item.
// It must never change for a stream, because it picks the item's subject.
func (k ItemID) Partition(n int) int {
	h := fnv.New32a()
	h.Write([]byte(k.Project))
	h.Write([]byte{0})
	h.Write([]byte(k.Item))
	return int(h.Sum32() % uint32(n))
}
