package uniques

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// VisitorID is the sketch key of an anonymous visitor: HMAC-SHA256 under the
// project's salt of the day over (project, ip, userAgent), truncated to 64
// bits. Without the salt, which is random and deleted after two days, the id
// cannot be tied back to an IP address; it is never derived from the date.
// The same person gets a new id each UTC day, so a count over several days
// counts such a person once per day (Plausible's trade-off).
func VisitorID(salt []byte, project, ip, userAgent string) uint64 {
	mac := hmac.New(sha256.New, salt)
	var buf [64]byte
	mac.Write(frame(buf[:0], project, ip, userAgent))
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(mac.Sum(sum[:0]))
}

// Hash is the sketch key of an identifier the caller already holds, such as a
// content's userId or sessionId within a project: SHA-256 over the
// length-prefixed parts, truncated to 64 bits. Parts are framed, so
// ("ab", "c") and ("a", "bc") differ.
func Hash(parts ...string) uint64 {
	var buf [64]byte
	sum := sha256.Sum256(frame(buf[:0], parts...))
	return binary.BigEndian.Uint64(sum[:])
}

func frame(b []byte, parts ...string) []byte {
	for _, s := range parts {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}
