package wire

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// SDK event validation. ParseContentEvent turns one wire event into the
// actors.ContentEvent the log stores, or into the field errors that reject it;
// it is a pure function of the bytes and the request's receive time, so it
// runs at the edge, once per event, before anything is published.

// Timestamp rules.
const (
	MaxFutureSkew = 5 * time.Minute // a later timestamp is set to the receive time ("adjusted")
	MaxEventAge   = 24 * time.Hour  // an older timestamp is rejected (too_old)
)

// Limits of one event's fields.
const (
	MaxEventIDLen  = 128  // eventId: printable ASCII without spaces
	MaxStringLen   = 256  // userId, deviceId, sessionId and the data strings
	MaxMessageLen  = 1024 // error.errorMessage
	MaxSeconds     = 86400
	MaxStartupMS   = 3_600_000
	MaxRebufferMS  = 86_400_000
	MaxCount       = 1_000_000 // position, loopCount
	DefaultDataMax = 8 << 10
)

// ParseOptions is what one request gives every event it carries.
type ParseOptions struct {
	ReceivedAt   time.Time
	SentAt       *time.Time // the batch's sentAt, used for events without their own
	MaxDataBytes int        // encoded size limit of data; 0 = DefaultDataMax
}

// field kinds of the data schemas
type kind uint8

const (
	kString kind = iota
	kInt
	kNumber
	kBool
	kID   // a content id
	kCode // a string or an integer, kept as a string (errorCode)
)

type fieldSpec struct {
	name     string
	key      string // "data." + name, the field error's key (set by init: not built per event)
	kind     kind
	required bool
	min, max float64  // numbers
	maxLen   int      // strings; 0 = MaxStringLen
	enum     []string // strings
}

// EntryPoints are the documented impression entry points.
var EntryPoints = []string{"feed", "search", "direct", "share"}

// contentSchemas are the data fields of each documented type. The README's
// validation table is this table. swipe's toContentId and watchTime have
// fallbacks (contentId, watchTimeOnFrom) and are checked in ParseContentEvent.
var contentSchemas = map[actors.ContentEventType][]fieldSpec{
	actors.Impression: {
		{name: "position", kind: kInt, required: true, max: MaxCount},
		{name: "entryPoint", kind: kString, enum: EntryPoints},
		{name: "feedId", kind: kString},
	},
	actors.PlayStart: {
		{name: "startupTime", kind: kInt, required: true, max: MaxStartupMS},
		{name: "rendition", kind: kString},
		{name: "codec", kind: kString},
		{name: "autoplay", kind: kBool},
	},
	actors.WatchProgress: {
		{name: "currentTime", kind: kNumber, required: true, max: MaxSeconds},
		{name: "duration", kind: kNumber, required: true, max: MaxSeconds},
		{name: "percentComplete", kind: kNumber, max: 100},
		{name: "rendition", kind: kString},
	},
	actors.Completion: {
		{name: "watchTime", kind: kNumber, required: true, max: MaxSeconds},
		// Required by the seed's table, yet its own batch example sends a
		// completion without it; absent means false.
		{name: "looped", kind: kBool},
		{name: "loopCount", kind: kInt, max: MaxCount},
	},
	actors.Swipe: {
		{name: "fromContentId", kind: kID, required: true},
		{name: "toContentId", kind: kID},
		{name: "watchTime", kind: kNumber, max: MaxSeconds},
		{name: "watchTimeOnFrom", kind: kNumber, max: MaxSeconds},
		{name: "direction", kind: kString},
	},
	actors.Like: {},
	actors.SocialShare: {
		{name: "platform", kind: kString, required: true, maxLen: actors.MaxIDLen},
	},
	actors.Save: {},
	actors.Rebuffer: {
		{name: "duration", kind: kInt, required: true, max: MaxRebufferMS},
		{name: "currentTime", kind: kNumber, required: true, max: MaxSeconds},
		{name: "rendition", kind: kString},
	},
	actors.QualityChange: {
		{name: "fromQuality", kind: kString, required: true},
		{name: "toQuality", kind: kString, required: true},
	},
	actors.PlaybackError: {
		{name: "errorCode", kind: kCode, required: true, maxLen: actors.MaxIDLen},
		{name: "errorMessage", kind: kString, required: true, maxLen: MaxMessageLen},
	},
}

func init() {
	for _, specs := range contentSchemas {
		for i := range specs {
			specs[i].key = "data." + specs[i].name
		}
	}
}

// wireEvent is one event as sent. Members stay raw until checked, so a wrong
// type becomes a field error instead of failing the whole decode.
type wireEvent struct {
	Event, EventID, ContentID, UserID, DeviceID, SessionID, Timestamp, SentAt, Data []byte
}

func (w *wireEvent) set(key, v []byte) {
	switch string(key) {
	case "event":
		w.Event = v
	case "eventId":
		w.EventID = v
	case "contentId":
		w.ContentID = v
	case "userId":
		w.UserID = v
	case "deviceId":
		w.DeviceID = v
	case "sessionId":
		w.SessionID = v
	case "timestamp":
		w.Timestamp = v
	case "sentAt":
		w.SentAt = v
	case "data":
		w.Data = v
	}
}

// maxFields bounds the fields of one data schema.
const maxFields = 8

// dataValues holds the checked data fields of one event, by schema position.
type dataValues struct {
	specs []fieldSpec
	v     [maxFields]struct {
		s  string
		n  float64
		ok bool
	}
}

func (d *dataValues) lookup(name string) int {
	for i := range d.specs {
		if d.specs[i].name == name {
			if d.v[i].ok {
				return i
			}
			return -1
		}
	}
	return -1
}

func (d *dataValues) str(name string) (string, bool) {
	if i := d.lookup(name); i >= 0 {
		return d.v[i].s, true
	}
	return "", false
}

func (d *dataValues) num(name string) (float64, bool) {
	if i := d.lookup(name); i >= 0 {
		return d.v[i].n, true
	}
	return 0, false
}

// ParseContentEvent validates one wire event.
func ParseContentEvent(raw []byte, o ParseOptions) actors.ParsedContentEvent {
	var out actors.ParsedContentEvent
	// The issues live on the stack and are copied out only for a rejected
	// event: a valid one (nearly all of them) then costs no allocation here.
	var issues actors.Issues
	is := &issues
	fail := func() actors.ParsedContentEvent {
		out.Err = &actors.Error{Code: actors.EInvalid, Message: "event does not match the schema", Issues: escape(is)}
		return out
	}
	var w wireEvent
	if Kind(raw) != "object" {
		is.FormErrors = append(is.FormErrors, Expected("object", raw))
		return fail()
	}
	if err := eachMember(raw, w.set); err != nil {
		is.FormErrors = append(is.FormErrors, "Invalid object")
		return fail()
	}
	ev := &out.Event

	if s, ok := stringMember(is, "eventId", w.EventID, false); ok {
		if !validEventID(s) {
			is.Add("eventId", "Must be 1 to "+strconv.Itoa(MaxEventIDLen)+" printable ASCII characters without spaces")
		} else {
			ev.ID = s
		}
	}
	typ := actors.ContentEventType("")
	if s, ok := stringMember(is, "event", w.Event, true); ok {
		if typ = actors.ContentEventType(s); !typ.Valid() {
			is.Add("event", "Invalid event type. Expected one of "+typeList()+", or a custom type 'custom_<name>' ([A-Za-z0-9_], 64 characters at most), received '"+truncate(s, 64)+"'")
			typ = ""
		}
	}
	ev.Type = typ

	// A swipe may name its item in data.toContentId instead.
	if s, ok := stringMember(is, "contentId", w.ContentID, typ != actors.Swipe); ok {
		if !actors.ValidID(s) {
			is.Add("contentId", invalidID)
		} else {
			out.ContentID, out.ContentField = s, "contentId"
		}
	}
	ev.UserID = optString(is, "userId", w.UserID, MaxStringLen)
	ev.DeviceID = optString(is, "deviceId", w.DeviceID, MaxStringLen)
	ev.SessionID = optString(is, "sessionId", w.SessionID, MaxStringLen)
	ts, hasTS := optTime(is, "timestamp", w.Timestamp)
	sentAt, hasSent := optTime(is, "sentAt", w.SentAt)

	var dv dataValues
	if v, ok := present(w.Data); ok {
		if Kind(v) != "object" {
			is.Add("data", Expected("object", v))
		} else {
			limit := o.MaxDataBytes
			if limit <= 0 {
				limit = DefaultDataMax
			}
			// Kept as sent: encoding a RawMessage compacts it anyway.
			if len(v) > limit {
				is.Add("data", "Data exceeds the limit of "+strconv.Itoa(limit)+" bytes")
			} else {
				ev.Data = ValidUTF8(v)
			}
		}
	}
	if typ != "" && !typ.Custom() {
		dv = checkData(is, typ, ev.Data)
	}
	if typ == actors.Swipe {
		out.FromID, _ = dv.str("fromContentId")
		to, hasTo := dv.str("toContentId")
		switch {
		case hasTo && out.ContentID != "" && to != out.ContentID:
			is.Add("data.toContentId", "Must equal contentId when both are given")
		case hasTo:
			out.ContentID, out.ContentField = to, "data.toContentId"
		case out.ContentID == "" && len(is.FieldErrors["contentId"]) == 0:
			is.Add("data.toContentId", "Required")
		}
		if out.FromID != "" && out.FromID == out.ContentID {
			is.Add("data.fromContentId", "Must differ from toContentId")
		}
		wt, hasWT := dv.num("watchTime")
		if !hasWT {
			wt, hasWT = dv.num("watchTimeOnFrom")
		}
		if !hasWT && len(is.FieldErrors["data.watchTime"]) == 0 && len(is.FieldErrors["data.watchTimeOnFrom"]) == 0 && len(is.FieldErrors["data"]) == 0 {
			is.Add("data.watchTime", "Required")
		}
		ev.WatchTime, ev.Other = wt, out.FromID
	}
	if !is.Empty() {
		return fail()
	}

	switch typ {
	case actors.PlayStart:
		n, _ := dv.num("startupTime")
		ev.StartupMS = int64(n)
	case actors.Completion:
		ev.WatchTime, _ = dv.num("watchTime")
		n, _ := dv.num("loopCount")
		ev.Loops = int64(n)
	case actors.Rebuffer:
		n, _ := dv.num("duration")
		ev.StallMS = int64(n)
	case actors.PlaybackError:
		ev.Code, _ = dv.str("errorCode")
	case actors.SocialShare:
		ev.Code, _ = dv.str("platform")
	}

	recv := o.ReceivedAt.UTC().Truncate(time.Millisecond)
	at := recv
	if hasTS {
		at = ts
		if !hasSent && o.SentAt != nil {
			sentAt, hasSent = *o.SentAt, true
		}
		if hasSent {
			// The device's clock is off by sentAt − receivedAt (less the
			// network time, which is small next to real skews).
			at = ts.Add(recv.Sub(sentAt))
		}
	}
	if at.After(recv.Add(MaxFutureSkew)) {
		at, out.Adjusted = recv, true
	}
	ev.At, ev.Recv = at.UnixMilli(), recv.UnixMilli()
	if recv.Sub(at) > MaxEventAge {
		is.Add("timestamp", "Event is older than 24 hours ("+actors.NewTime(at).Format(actors.TimeLayout)+" after clock-skew correction)")
		out.Err = &actors.Error{Code: actors.ETooOld, Message: "event is older than 24 hours and is not processed", Issues: escape(is)}
	}
	return out
}

const invalidID = "Invalid contentId: 1 to 64 characters of letters, digits, '_' and '-'"

// checkData validates data (compacted, or nil) against typ's schema.
func checkData(is *actors.Issues, typ actors.ContentEventType, data json.RawMessage) dataValues {
	specs := contentSchemas[typ]
	dv := dataValues{specs: specs}
	if len(specs) == 0 {
		return dv
	}
	var raw [maxFields][]byte
	if data != nil {
		err := eachMember(data, func(key, val []byte) {
			for i := range specs {
				if specs[i].name == string(key) {
					raw[i] = val
				}
			}
		})
		if err != nil {
			is.Add("data", "Invalid object")
			return dv
		}
	} else if len(is.FieldErrors["data"]) > 0 {
		return dv // the data error says it all
	}
	for fi, f := range specs {
		key := f.key
		v, ok := present(raw[fi])
		val := &dv.v[fi]
		if !ok {
			if f.required {
				is.Add(key, "Required")
			}
			continue
		}
		maxLen := f.maxLen
		if maxLen == 0 {
			maxLen = MaxStringLen
		}
		switch f.kind {
		case kString, kID:
			s, err := String(v)
			switch {
			case err != nil:
				is.Add(key, Expected("string", v))
			case f.kind == kID && !actors.ValidID(s):
				is.Add(key, invalidID)
			case f.kind == kString && f.required && s == "":
				is.Add(key, nonEmpty)
			case len(s) > maxLen:
				is.Add(key, maxChars(maxLen))
			case f.enum != nil && !contains(f.enum, s):
				is.Add(key, enumError(f.enum, truncate(s, 64)))
			default:
				val.s, val.ok = s, true
			}
		case kCode:
			if Kind(v) == "number" {
				n, err := strconv.ParseInt(string(v), 10, 64)
				if err != nil {
					is.Add(key, "Expected string or integer, received float")
				} else {
					val.s, val.ok = strconv.FormatInt(n, 10), true
				}
				continue
			}
			s, err := String(v)
			switch {
			case err != nil:
				is.Add(key, Expected("string or integer", v))
			case s == "":
				is.Add(key, nonEmpty)
			case len(s) > maxLen:
				is.Add(key, maxChars(maxLen))
			default:
				val.s, val.ok = s, true
			}
		case kBool:
			if k := Kind(v); k != "boolean" {
				is.Add(key, Expected("boolean", v))
			} else {
				val.ok = true
			}
		case kInt, kNumber:
			if k := Kind(v); k != "number" {
				want := "number"
				if f.kind == kInt {
					want = "integer"
				}
				is.Add(key, Expected(want, v))
				continue
			}
			n, err := strconv.ParseFloat(string(v), 64)
			switch {
			case err != nil || math.IsInf(n, 0):
				is.Add(key, "Number is out of range")
			case f.kind == kInt && n != math.Trunc(n):
				is.Add(key, "Expected integer, received float")
			case n < f.min:
				is.Add(key, "Number must be greater than or equal to "+fmtNum(f.min))
			case f.max > 0 && n > f.max:
				is.Add(key, "Number must be less than or equal to "+fmtNum(f.max))
			default:
				val.n, val.ok = n, true
			}
		}
	}
	return dv
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func typeList() string {
	var b strings.Builder
	for i, t := range actors.ContentEventTypes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(t))
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func validEventID(s string) bool {
	if len(s) == 0 || len(s) > MaxEventIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func optString(is *actors.Issues, key string, v json.RawMessage, maxLen int) string {
	s, ok := stringMember(is, key, v, false)
	if !ok {
		return ""
	}
	if len(s) > maxLen {
		is.Add(key, maxChars(maxLen))
		return ""
	}
	return s
}

// optTime parses an optional ISO-8601 date-time with a zone (RFC 3339).
func optTime(is *actors.Issues, key string, v json.RawMessage) (time.Time, bool) {
	s, ok := stringMember(is, key, v, false)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		is.Add(key, "Invalid datetime: expected ISO 8601 with a time zone, such as 2024-02-04T12:00:00Z")
		return time.Time{}, false
	}
	return t.UTC().Truncate(time.Millisecond), true
}

// MaxBatchEvents is the most events one batch request may carry.
const MaxBatchEvents = 100

// SplitContentBatch checks the envelope of a batch body, {"events":[…],
// "sentAt"?}, and returns its events, still raw, and its sentAt. body must be
// valid JSON. A body outside the envelope fails as a whole (EInvalid), and
// so does one with more than MaxBatchEvents events; the events themselves
// are checked one by one with ParseContentEvent, so a bad one fails alone.
func SplitContentBatch(body []byte) (events [][]byte, sentAt *time.Time, err error) {
	is := &actors.Issues{FormErrors: []string{}, FieldErrors: map[string][]string{}}
	if Kind(body) != "object" {
		is.FormErrors = append(is.FormErrors, Expected("object", body))
		return nil, nil, &actors.Error{Code: actors.EInvalid, Message: "request body must be a JSON object", Issues: is}
	}
	var rawEvents, rawSent []byte
	if eachMember(body, func(key, val []byte) {
		switch string(key) {
		case "events":
			rawEvents = val
		case "sentAt":
			rawSent = val
		}
	}) != nil {
		is.FormErrors = append(is.FormErrors, "Invalid object")
		return nil, nil, &actors.Error{Code: actors.EInvalid, Message: "request body must be a JSON object", Issues: is}
	}
	if v, ok := present(rawEvents); !ok {
		is.Add("events", "Required")
	} else if Kind(v) != "array" {
		is.Add("events", Expected("array", v))
	} else if eachElement(v, func(ev []byte) { events = append(events, ev) }) != nil {
		is.Add("events", "Invalid array")
	} else if len(events) == 0 {
		is.Add("events", "Array must contain at least 1 element(s)")
	} else if len(events) > MaxBatchEvents {
		is.Add("events", "Array must contain at most "+strconv.Itoa(MaxBatchEvents)+" element(s)")
	}
	if t, ok := optTime(is, "sentAt", rawSent); ok {
		sentAt = &t
	}
	if !is.Empty() {
		return nil, nil, &actors.Error{Code: actors.EInvalid, Message: "request body does not match the schema", Issues: is}
	}
	return events, sentAt, nil
}
