package actors

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/engagedhq/engaged/actors/series"
)

// Hand-written JSON for the render summary. It is encoded on every read and,
// for live updates, after every applied event; encoding/json spent ~20 µs on
// a summary with 25 recent events (reflection, and re-validating each
// event's raw metadata), a quarter of the CPU of single-event ingest. The
// output is the same JSON document (TestRenderSummaryJSON compares them).

// AppendJSON appends s as the body of GET /v1/renders/:id/engagement.
func (s *RenderSummary) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	return s.appendFields(b)
}

// appendJSONWithSeq appends s with "seq" first: a live update's payload.
func (s *RenderSummary) appendJSONWithSeq(b []byte, seq uint64) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ',')
	return s.appendFields(b)
}

func (s *RenderSummary) appendFields(b []byte) []byte {
	c := &s.Counts
	b = append(b, `"counts":{"viewed":`...)
	b = strconv.AppendInt(b, c.Viewed, 10)
	b = append(b, `,"downloaded":`...)
	b = strconv.AppendInt(b, c.Downloaded, 10)
	b = append(b, `,"printed":`...)
	b = strconv.AppendInt(b, c.Printed, 10)
	b = append(b, `,"email_opened":`...)
	b = strconv.AppendInt(b, c.EmailOpened, 10)
	b = append(b, `,"email_sent":`...)
	b = strconv.AppendInt(b, c.EmailSent, 10)
	b = append(b, `,"share_created":`...)
	b = strconv.AppendInt(b, c.ShareCreated, 10)
	b = append(b, `,"share_revoked":`...)
	b = strconv.AppendInt(b, c.ShareRevoked, 10)
	b = append(b, `},"linkOpens":`...)
	b = strconv.AppendInt(b, s.LinkOpens, 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, s.Total, 10)
	b = append(b, `,"botViews":`...)
	b = strconv.AppendInt(b, s.BotViews, 10)
	b = append(b, `,"uniques":{"viewers":`...)
	b = strconv.AppendUint(b, s.Uniques.Viewers, 10)
	b = append(b, `,"approximate":`...)
	b = strconv.AppendBool(b, s.Uniques.Approximate)
	b = append(b, `},"recent":[`...)
	for i := range s.Recent {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.Recent[i].appendJSON(b)
	}
	return append(b, "]}"...)
}

func (e *RenderEvent) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = AppendJSONString(b, e.ID)
	b = append(b, `,"eventType":`...)
	b = AppendJSONString(b, string(e.EventType))
	b = append(b, `,"actorKind":`...)
	b = AppendJSONString(b, string(e.ActorKind))
	b = append(b, `,"shareId":`...)
	b = appendJSONOpt(b, e.ShareID)
	b = append(b, `,"sourceIp":`...)
	b = appendJSONOpt(b, e.SourceIP)
	b = append(b, `,"userAgent":`...)
	b = appendJSONOpt(b, e.UserAgent)
	b = append(b, `,"metadata":`...)
	if len(e.Metadata) == 0 {
		b = append(b, "null"...)
	} else {
		// Validated and compacted when the event was recorded.
		b = append(b, e.Metadata...)
	}
	b = append(b, `,"createdAt":"`...)
	b = e.CreatedAt.UTC().AppendFormat(b, TimeLayout)
	return append(b, `"}`...)
}

func appendJSONOpt(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return AppendJSONString(b, *s)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, escaping as encoding/json
// does (transport's hand-written responses use it too): quotes, backslashes, control characters, <, >, & and U+2028/U+2029;
// invalid UTF-8 becomes U+FFFD. \b and \f are written short, as encoding/json
// has since Go 1.22 (FuzzContentUpdateJSON found them written \u0008, \u000c).
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// The helpers below write the values of the content family's live update
// (contentjson.go) and the families' live series, each exactly as
// encoding/json writes a value of that Go type; TestContentUpdateJSON,
// TestJSONFloat and TestLiveSeriesJSON compare them.

// AppendJSONFloat appends f as encoding/json encodes a float64: ES6 number
// formatting, the shortest decimal that reads back as f, in exponent form
// below 1e-6 and from 1e21 on, with "e-07" cleaned up to "e-7". encoding/json
// refuses NaN and ±Inf (an error, no output); here they become null so that
// the output stays JSON, and a caller that must refuse them as
// encoding/json did checks first (ContentSummary.finite).
func AppendJSONFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONFloatPtr appends *f, or null for a nil f.
func appendJSONFloatPtr(b []byte, f *float64) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	return AppendJSONFloat(b, *f)
}

// appendJSONIntPtr appends *v, or null for a nil v.
func appendJSONIntPtr(b []byte, v *int64) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *v, 10)
}

type countPair struct {
	k string
	v int64
}

// appendJSONCounts appends m as encoding/json encodes a map[string]int64:
// null for a nil map, {} for an empty one, keys in byte order of the
// unescaped key (what encoding/json sorts), each escaped as a string.
// The keys of up to 32 entries are sorted on the stack.
func appendJSONCounts(b []byte, m map[string]int64) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var arr [32]countPair
	kv := arr[:0]
	for k, v := range m {
		kv = append(kv, countPair{k, v})
	}
	slices.SortFunc(kv, func(x, y countPair) int { return strings.Compare(x.k, y.k) })
	b = append(b, '{')
	for i := range kv {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, kv[i].k)
		b = append(b, ':')
		b = strconv.AppendInt(b, kv[i].v, 10)
	}
	return append(b, '}')
}

// countsJSONSize bounds what appendJSONCounts appends for m, unless a key
// needs escaping (then append grows the buffer).
func countsJSONSize(m map[string]int64) int {
	n := 2
	for k := range m {
		n += len(k) + 24 // quotes, colon, comma and up to 20 digits with a sign
	}
	return n
}

// liveKeys are a family's metric names as the keys of a live update's
// "values": encoded once, with their colons, and listed in the order
// encoding/json writes a map's keys (byte order of the names).
type liveKeys struct {
	order []int    // metric ids by name
	keys  [][]byte // by metric id: the name as a JSON string, and ':'
	size  int      // bounds what appendLive appends
}

func newLiveKeys(names []string) *liveKeys {
	lk := &liveKeys{order: make([]int, len(names)), keys: make([][]byte, len(names)), size: len(`,"series":{"minute":,"hour":}`)}
	for m, name := range names {
		lk.order[m] = m
		lk.keys[m] = append(AppendJSONString(nil, name), ':')
		lk.size += 2 * (len(lk.keys[m]) + 21) // two buckets, each a value of up to 20 characters and a comma
	}
	slices.SortFunc(lk.order, func(x, y int) int { return strings.Compare(names[x], names[y]) })
	lk.size += 2 * len(`{"t":"+292278994-08-17T07:12:55.807Z","values":{}}`)
	return lk
}

var (
	contentLiveKeys = newLiveKeys(ContentMetrics)
	renderLiveKeys  = newLiveKeys(RenderMetrics)
)

// appendLive appends `,"series":` and the item's newest minute and hour as
// encoding/json writes the LiveSeries that c.live(names) returns, but reads
// the series directly (Series.Values) instead of building it: live cost one
// slice per metric and bucket and two maps to fill and sort, more than the
// rest of a content update together. It appends nothing where live is nil
// (before the first filed event): the update's "series" is omitempty.
// TestContentUpdateJSON and TestLiveSeriesJSON compare the two.
func (c *components) appendLive(b []byte, lk *liveKeys) []byte {
	if c.ser == nil || c.ser.Clock() < 0 {
		return b
	}
	clock := c.ser.Clock()
	b = append(b, `,"series":{"minute":`...)
	b = c.appendLiveBucket(b, series.Minute, clock, lk)
	b = append(b, `,"hour":`...)
	b = c.appendLiveBucket(b, series.Hour, clock-clock%3_600_000, lk)
	return append(b, '}')
}

// appendLiveBucket appends one LiveBucket: the metrics' values in the
// bucket starting at t, zeros left out.
func (c *components) appendLiveBucket(b []byte, g series.Granularity, t int64, lk *liveKeys) []byte {
	b = append(b, `{"t":`...)
	b = UnixMilli(t).AppendJSON(b)
	b = append(b, `,"values":{`...)
	var arr [series.MaxMetrics]int64
	vals := arr[:len(lk.keys)]
	if c.ser.Values(g, t, vals) == nil { // live leaves out a metric Buckets refuses
		first := true
		for _, m := range lk.order {
			if vals[m] == 0 {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, lk.keys[m]...)
			b = strconv.AppendInt(b, vals[m], 10)
		}
	}
	return append(b, "}}"...)
}
