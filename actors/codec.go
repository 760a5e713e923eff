package actors

import (
	"encoding/binary"
	"errors"
	"math"
)

// The log's binary message format. JSON cost about a fifth of the CPU of
// batch ingest (encode at the edge, decode in the partition consumer), most
// of it re-validating the raw metadata and data bags; this format copies
// them as bytes. docs/BENCHMARKS.md has the before and after.
//
//	message     = codecV3 str(ref) section{families}   one section per family (family.go), in family order
//	section     = uvarint(n) event{n}                  render: renderEvent, content: videoEvent, user: userEvent (userfamily.go)
//	renderEvent = str(id) str(type) str(actorKind) opt(shareId) opt(sourceIp) opt(userAgent)
//	              bytes(metadata) varint(createdAt unix ms) renderExt
//	renderExt   = uvarint(flags) [str(ipKey) if flags&1] [u64(visitor) if flags&2]   bot: flags&4
//	videoEvent  = str(id) str(type) str(role) str(other) str(userId) str(deviceId) str(sessionId)
//	              varint(at) varint(recv) bytes(data) varint(startupMs) f64(watchTime)
//	              varint(stallMs) varint(loops) str(code)
//	str, bytes  = uvarint(length) octets       opt = 0x00 | 0x01 str       f64 = 8 octets, little endian
//
// A family added later appends its section and takes a new version; a
// message of an older version holds none of its events (sectionsIn).
// codecV1 (0xB1) holds the render and content sections without renderExt,
// codecV2 (0xB2) with it, codecV3 (0xB3) adds the user section. A message
// is written in the oldest form that holds it (Message.appendBinary): as
// codecV2 only when one of its render events has a log-only field set
// (Message.renderExtras), as codecV3 only when it holds user events, so
// every other message keeps the codecV1 bytes and an older binary still
// reads it. A message whose first byte is '{' is the JSON of Message (the
// log's first format); DecodeMessage reads all four.
const (
	codecV1 byte = 0xB1
	codecV2 byte = 0xB2
	codecV3 byte = 0xB3 // adds the user family's section
)

// renderExt flags: which of a render event's log-only fields follow.
const (
	extIPKey   = 1 << 0
	extVisitor = 1 << 1
	extBot     = 1 << 2
	extAll     = extIPKey | extVisitor | extBot
)

var errCodec = errors.New("malformed log message")

// appendRenderEventExt appends e's renderExt (codecV2 only).
func appendRenderEventExt(b []byte, e *RenderEvent) []byte {
	var flags uint64
	if e.IPKey != "" {
		flags |= extIPKey
	}
	if e.Visitor != 0 {
		flags |= extVisitor
	}
	if e.Bot {
		flags |= extBot
	}
	b = binary.AppendUvarint(b, flags)
	if e.IPKey != "" {
		b = appendStr(b, e.IPKey)
	}
	if e.Visitor != 0 {
		b = binary.LittleEndian.AppendUint64(b, e.Visitor)
	}
	return b
}

// appendRenderEvent appends e as renderEvent without renderExt; snapshots (snapcodec.go) hold
// their recent events in the same form.
func appendRenderEvent(b []byte, e *RenderEvent) []byte {
	b = appendStr(b, e.ID)
	b = appendStr(b, string(e.EventType))
	b = appendStr(b, string(e.ActorKind))
	b = appendOpt(b, e.ShareID)
	b = appendOpt(b, e.SourceIP)
	b = appendOpt(b, e.UserAgent)
	b = appendBytes(b, e.Metadata)
	return binary.AppendVarint(b, e.CreatedAt.UnixMilli())
}

func appendF64(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendOpt(b []byte, s *string) []byte {
	if s == nil {
		return append(b, 0)
	}
	return appendStr(append(b, 1), *s)
}

// decoder reads the binary format. Strings are substrings of one copy of
// the whole message, so decoding allocates once for all of them, unless own
// is set.
type decoder struct {
	version byte   // the message's format (codecV1, codecV2, codecV3); 0 in snapshots
	s       string // the message
	b       []byte // the same bytes, for byte fields
	off     int
	err     error
	// own makes every string and byte field a copy of its own: set when
	// the result outlives the input by far (a restored snapshot), where one
	// short id would otherwise keep the whole input alive.
	own bool
}

// list reads a count and that many elements with read, nil for none.
func list[T any](d *decoder, read func(*T)) []T {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]T, n)
	for i := range out {
		read(&out[i])
	}
	return out
}

func (d *decoder) renderEvent(e *RenderEvent) {
	e.ID, e.EventType, e.ActorKind = d.str(), EventType(d.str()), ActorKind(d.str())
	e.ShareID, e.SourceIP, e.UserAgent = d.opt(), d.opt(), d.opt()
	e.Metadata = d.bytes()
	e.CreatedAt = UnixMilli(d.varint())
	if d.version < codecV2 {
		return
	}
	flags := d.uvarint()
	if flags&^extAll != 0 {
		d.err = errCodec
		return
	}
	if flags&extIPKey != 0 {
		e.IPKey = d.str()
	}
	if flags&extVisitor != 0 {
		e.Visitor = d.u64()
	}
	e.Bot = flags&extBot != 0
}

func (d *decoder) contentEvent(e *ContentEvent) {
	e.ID, e.Type, e.Role, e.Other = d.str(), ContentEventType(d.str()), d.str(), d.str()
	e.UserID, e.DeviceID, e.SessionID = d.str(), d.str(), d.str()
	e.At, e.Recv = d.varint(), d.varint()
	e.Data = d.bytes()
	e.StartupMS = d.varint()
	e.WatchTime = d.f64() // validation admits finite numbers only
	e.StallMS, e.Loops = d.varint(), d.varint()
	e.Code = d.str()
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.err = errCodec
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.err = errCodec
		return 0
	}
	d.off += n
	return v
}

// count reads a slice length, refusing one that the rest of the message
// could not hold (every event takes at least one byte), so a corrupt length
// cannot make a huge allocation.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)-d.off) {
		d.err = errCodec
		return 0
	}
	return int(n)
}

func (d *decoder) span() (int, int) {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)-d.off) {
		d.err = errCodec
		return 0, 0
	}
	start := d.off
	d.off += int(n)
	return start, d.off
}

func (d *decoder) str() string {
	i, j := d.span()
	if d.own {
		return string(d.b[i:j])
	}
	return d.s[i:j]
}

func (d *decoder) bytes() []byte {
	i, j := d.span()
	if i == j {
		return nil
	}
	if d.own {
		return append([]byte(nil), d.b[i:j]...)
	}
	return d.b[i:j:j]
}

func (d *decoder) u8() byte {
	if d.err != nil || d.off >= len(d.b) {
		d.err = errCodec
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) opt() *string {
	switch d.u8() {
	case 0:
		return nil
	case 1:
		s := d.str()
		return &s
	}
	d.err = errCodec
	return nil
}

func (d *decoder) u64() uint64 {
	if d.err != nil || len(d.b)-d.off < 8 {
		d.err = errCodec
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// f64 reads a float, refusing NaN and infinities: the encoders never write
// them (JSON cannot carry them either).
func (d *decoder) f64() float64 {
	v := math.Float64frombits(d.u64())
	if math.IsNaN(v) || math.IsInf(v, 0) {
		d.err = errCodec
		return 0
	}
	return v
}
