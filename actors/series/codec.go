package series

import (
	"encoding/binary"
	"errors"
	"math/bits"

	"github.com/engagedhq/engaged/actors/uniques"
)

const version = 1

// ErrCorrupt is returned by Decode for bytes that are no series encoding of
// the spec given.
var ErrCorrupt = errors.New("series: corrupt encoding")

// ErrVersion is returned by Decode for an unknown encoding version.
var ErrVersion = errors.New("series: unknown encoding version")

// AppendBinary appends the series' canonical encoding to b:
//
//	version byte, uvarint counters, uvarint distinct,
//	uvarint clock+1 (0 = no time yet), uvarint late minute, uvarint late hour,
//	minute cells: uvarint n, then per cell uvarint clock-minute, byte metric, varint value
//	hour cells:   the same with clockHour-hour
//	per distinct metric: byte level; if level > 0 uvarint unsampled hour,
//	  uvarint count of the day before, and the sketches of the clock's
//	  minute, the minute before, the clock's hour and day, each a byte 0
//	  (none) or 1 and its uniques encoding; uvarint n, then per key its 8
//	  bytes big-endian and uvarint minute bits 0-63, 64-127, hour bits
//	  (bits 62 and 63: seen on the clock's day, the day before)
//
// Cells are in key order and keys sorted, so equal states encode equally.
// Hours kept only until they are written (before the window) are left out.
func (s *Series) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(int(s.nc)))
	b = binary.AppendUvarint(b, uint64(int(s.nd)))
	b = binary.AppendUvarint(b, uint64(s.clock+1))
	b = binary.AppendUvarint(b, uint64(s.lateMinute))
	b = binary.AppendUvarint(b, uint64(s.lateHour))
	b = appendCells(b, &s.mc, int64(s.clock), Minutes)
	b = appendCells(b, &s.hc, int64(s.clockHour()), Hours)
	for _, v := range s.vis {
		b = append(b, v.level)
		if v.level > 0 {
			b = binary.AppendUvarint(b, uint64(v.ap.unsampled))
			b = binary.AppendUvarint(b, uint64(v.ap.prevDay))
			for _, sk := range []*uniques.Sketch{v.ap.openMin[0], v.ap.openMin[1], v.ap.openHour, v.ap.openDay} {
				if sk == nil {
					b = append(b, 0)
					continue
				}
				b = append(b, 1)
				b, _ = sk.AppendBinary(b)
			}
		}
		b = binary.AppendUvarint(b, uint64(len(v.seen)))
		for _, sn := range v.seen {
			b = binary.BigEndian.AppendUint64(b, sn.key)
			b = binary.AppendUvarint(b, sn.min[0])
			b = binary.AppendUvarint(b, sn.min[1])
			b = binary.AppendUvarint(b, sn.hour)
		}
	}
	return b, nil
}

func appendCells(b []byte, c *cells, newest, window int64) []byte {
	lo, _ := c.search(uint32(max(newest-window+1, 0)) << 5)
	b = binary.AppendUvarint(b, uint64(c.len()-lo))
	for i := lo; i < c.len(); i++ {
		b = binary.AppendUvarint(b, uint64(newest-int64(c.k[i]>>5)))
		b = append(b, byte(c.k[i]&31))
		b = binary.AppendVarint(b, c.at(i))
	}
	return b
}

type reader struct {
	b   []byte
	err bool
}

// uvarint and varint refuse padded varints (0x80 0x00 for 0): they decode
// but are not what AppendBinary writes, and a state has one encoding.
func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n != uvarintLen(v) {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func uvarintLen(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 || n != uvarintLen(uint64(v<<1^v>>63)) {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uint64() uint64 {
	if len(r.b) < 8 {
		r.err = true
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// Decode reads a series of spec from the front of b and returns it with the
// bytes after it. It rejects what AppendBinary would not write. Every hour
// before the clock's is taken as written to Postgres (see PendingHours); the
// clock's own hour is pending.
func Decode(spec Spec, b []byte) (*Series, []byte, error) {
	if !spec.valid() {
		return nil, nil, ErrCorrupt
	}
	if len(b) == 0 {
		return nil, nil, ErrCorrupt
	}
	if b[0] != version {
		return nil, nil, ErrVersion
	}
	r := &reader{b: b[1:]}
	if r.uvarint() != uint64(spec.Counters) || r.uvarint() != uint64(spec.Distinct) {
		return nil, nil, ErrCorrupt
	}
	s := New(spec)
	clock := r.uvarint()
	if clock > maxMinute+1 {
		return nil, nil, ErrCorrupt
	}
	s.clock = int32(clock) - 1
	s.lateMinute, s.lateHour = int64(r.uvarint()), int64(r.uvarint())
	if s.lateMinute < 0 || s.lateHour < 0 || s.lateHour > s.lateMinute {
		return nil, nil, ErrCorrupt
	}
	nm := spec.Counters + spec.Distinct
	var ok bool
	if s.mc, ok = readCells(r, int64(s.clock), Minutes, nm); !ok {
		return nil, nil, ErrCorrupt
	}
	if s.hc, ok = readCells(r, int64(s.clockHour()), Hours, nm); !ok {
		return nil, nil, ErrCorrupt
	}
	for j := range s.vis {
		v := &s.vis[j]
		v.level = r.byte()
		if v.level > 0 && !r.err {
			v.ap = &approx{}
			u := r.uvarint()
			if u > uint64(s.clockHour()) || int64(s.clockHour())-int64(u) >= Hours {
				return nil, nil, ErrCorrupt
			}
			v.ap.unsampled = int32(u)
			v.ap.prevDay = int64(r.uvarint())
			if v.ap.prevDay < 0 {
				return nil, nil, ErrCorrupt
			}
			for _, sk := range []**uniques.Sketch{&v.ap.openMin[0], &v.ap.openMin[1], &v.ap.openHour, &v.ap.openDay} {
				switch r.byte() {
				case 0:
				case 1:
					d, rest, err := uniques.Decode(r.b)
					if err != nil || d.Count() == 0 {
						return nil, nil, ErrCorrupt
					}
					*sk, r.b = d, rest
				default:
					return nil, nil, ErrCorrupt
				}
			}
		}
		n := r.uvarint()
		if r.err || v.level > 63 || n > SampleCap || uint64(len(r.b)) < n*11 {
			return nil, nil, ErrCorrupt
		}
		if n > 0 {
			v.seen = make([]seen, n)
		}
		for i := range v.seen {
			k := r.uint64()
			sn := seen{key: k, min: [2]uint64{r.uvarint(), r.uvarint()}, hour: r.uvarint()}
			if r.err || (i > 0 && k <= v.seen[i-1].key) || (v.level > 0 && k>>(64-v.level) != 0) ||
				sn.hour&^(hourMask|dayMask) != 0 || sn.min[0]|sn.min[1]|sn.hour == 0 || !inWindow(sn, s.clock) {
				return nil, nil, ErrCorrupt
			}
			v.seen[i] = sn
		}
	}
	if r.err {
		return nil, nil, ErrCorrupt
	}
	if s.clock >= 0 {
		if lo, _ := s.hc.search(uint32(s.clockHour()) << 5); lo < s.hc.len() {
			s.touch(s.clockHour())
		}
		for j := range s.vis {
			if s.dayValue(j, 0) > 0 {
				s.touch(dayPend(s.clockDay()))
				break
			}
		}
	}
	return s, r.b, nil
}

// inWindow reports whether no bit of sn names a minute or hour before 0.
func inWindow(sn seen, clock int32) bool {
	if clock < 0 {
		return false
	}
	if top := 127 - bits.LeadingZeros64(sn.min[1]); sn.min[1] != 0 && int64(top) > int64(clock) {
		return false
	}
	if top := 63 - bits.LeadingZeros64(sn.min[0]); sn.min[0] != 0 && int64(top) > int64(clock) {
		return false
	}
	h := sn.hour & hourMask
	top := 63 - bits.LeadingZeros64(h)
	return h == 0 || int64(top) <= int64(clock/60)
}

func readCells(r *reader, newest, window int64, metrics int) (cells, bool) {
	n := r.uvarint()
	if r.err || n > uint64(window)*MaxMetrics || uint64(len(r.b)) < n*3 {
		return cells{}, false
	}
	if n == 0 {
		return cells{}, true
	}
	c := cells{k: make([]uint32, 0, n), v: make([]int32, 0, n)}
	for i := range int(n) {
		off := r.uvarint()
		metric := r.byte()
		v := r.varint()
		if r.err || off >= uint64(window) || int64(off) > newest || int(metric) >= metrics || v == 0 {
			return cells{}, false
		}
		k := uint32(newest-int64(off))<<5 | uint32(metric)
		if i > 0 && k <= c.k[i-1] {
			return cells{}, false
		}
		c.k = append(c.k, k)
		if fits(v) {
			c.v = append(c.v, int32(v))
		} else {
			c.v = append(c.v, bigMark)
			var big []bigCell
			if c.big != nil {
				big = *c.big
			}
			c.setBig(append(big, bigCell{k, v})) // in key order, as the cells come
		}
	}
	return c, true
}
