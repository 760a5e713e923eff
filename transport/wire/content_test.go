package wire

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

var recv0 = time.Date(2026, 5, 3, 10, 30, 0, 0, time.UTC)

func parse(t testing.TB, raw string) actors.ParsedContentEvent {
	t.Helper()
	return ParseContentEvent([]byte(raw), ParseOptions{ReceivedAt: recv0})
}

// Every row of the seed's event tables: a valid event of each type, and the
// same event without each required field.
func TestParseSeedTableRows(t *testing.T) {
	valid := map[actors.ContentEventType]map[string]any{
		actors.Impression:    {"position": 0},
		actors.PlayStart:     {"startupTime": 250},
		actors.WatchProgress: {"currentTime": 15.5, "duration": 45.2},
		actors.Completion:    {"watchTime": 45.2, "looped": false},
		actors.Swipe:         {"fromContentId": "cnt_a", "toContentId": "cnt_b", "watchTime": 12.5},
		actors.Like:          {},
		actors.SocialShare:   {"platform": "instagram"},
		actors.Save:          {},
		actors.Rebuffer:      {"duration": 1200, "currentTime": 12.5},
		actors.QualityChange: {"fromQuality": "720p", "toQuality": "480p"},
		actors.PlaybackError: {"errorCode": "E42", "errorMessage": "decode failed"},
	}
	// Required beyond contentId, as the seed's tables list them. looped is
	// required there but absent from the seed's own batch example, so it
	// defaults to false; swipe's toContentId may come from contentId.
	required := map[actors.ContentEventType][]string{
		actors.Impression: {"position"}, actors.PlayStart: {"startupTime"}, actors.WatchProgress: {"currentTime", "duration"},
		actors.Completion: {"watchTime"}, actors.Swipe: {"fromContentId", "toContentId", "watchTime"}, actors.SocialShare: {"platform"},
		actors.Rebuffer: {"duration", "currentTime"}, actors.QualityChange: {"fromQuality", "toQuality"}, actors.PlaybackError: {"errorCode", "errorMessage"},
	}
	for _, typ := range actors.ContentEventTypes {
		body := func(data map[string]any, withContent bool) string {
			m := map[string]any{"event": typ, "data": data}
			if withContent {
				m["contentId"] = "cnt_b"
			}
			b, _ := json.Marshal(m)
			return string(b)
		}
		t.Run(string(typ)+"/valid", func(t *testing.T) {
			p := parse(t, body(valid[typ], true))
			if p.Err != nil {
				t.Fatalf("rejected: %+v", p.Err.Issues)
			}
			if p.ContentID != "cnt_b" || p.Event.Type != typ || p.Adjusted {
				t.Fatalf("parsed %+v", p)
			}
		})
		if typ != actors.Swipe {
			t.Run(string(typ)+"/missing contentId", func(t *testing.T) {
				wantField(t, parse(t, body(valid[typ], false)), "contentId", "Required")
			})
		}
		for _, f := range required[typ] {
			t.Run(string(typ)+"/missing "+f, func(t *testing.T) {
				data := map[string]any{}
				for k, v := range valid[typ] {
					if k != f {
						data[k] = v
					}
				}
				wantField(t, parse(t, body(data, typ != actors.Swipe || f != "toContentId")), "data."+f, "Required")
			})
		}
	}
	t.Run("completion without looped", func(t *testing.T) {
		if p := parse(t, `{"event":"completion","contentId":"c","data":{"watchTime":45.2}}`); p.Err != nil {
			t.Fatalf("rejected: %+v", p.Err.Issues)
		}
	})
}

func wantField(t *testing.T, p actors.ParsedContentEvent, field, msg string) {
	t.Helper()
	if p.Err == nil {
		t.Fatalf("accepted, want fieldErrors.%s", field)
	}
	if p.Err.Code != actors.EInvalid {
		t.Fatalf("code %s", p.Err.Code)
	}
	got := p.Err.Issues.FieldErrors[field]
	if len(got) == 0 || !strings.Contains(got[0], msg) {
		t.Fatalf("fieldErrors = %v, want %s: %q", p.Err.Issues.FieldErrors, field, msg)
	}
}

func TestParseFieldErrors(t *testing.T) {
	tests := []struct {
		name, raw, field, msg string
	}{
		{"not an object", `[1]`, "", "Expected object, received array"},
		{"event missing", `{"contentId":"c"}`, "event", "Required"},
		{"event not a string", `{"event":1,"contentId":"c"}`, "event", "Expected string, received number"},
		{"unknown event", `{"event":"liked","contentId":"c"}`, "event", "Invalid event type"},
		{"custom prefix alone", `{"event":"custom_","contentId":"c"}`, "event", "Invalid event type"},
		{"custom with a dot", `{"event":"custom_a.b","contentId":"c"}`, "event", "Invalid event type"},
		{"contentId with a dot", `{"event":"like","contentId":"a.b"}`, "contentId", "Invalid contentId"},
		{"contentId too long", `{"event":"like","contentId":"` + strings.Repeat("a", 65) + `"}`, "contentId", "Invalid contentId"},
		{"contentId not a string", `{"event":"like","contentId":7}`, "contentId", "Expected string"},
		{"eventId with a space", `{"event":"like","contentId":"c","eventId":"a b"}`, "eventId", "printable ASCII"},
		{"eventId too long", `{"event":"like","contentId":"c","eventId":"` + strings.Repeat("e", 129) + `"}`, "eventId", "printable ASCII"},
		{"userId not a string", `{"event":"like","contentId":"c","userId":5}`, "userId", "Expected string"},
		{"sessionId too long", `{"event":"like","contentId":"c","sessionId":"` + strings.Repeat("s", 257) + `"}`, "sessionId", "at most 256"},
		{"timestamp not ISO", `{"event":"like","contentId":"c","timestamp":"yesterday"}`, "timestamp", "Invalid datetime"},
		{"timestamp without zone", `{"event":"like","contentId":"c","timestamp":"2026-05-03T10:00:00"}`, "timestamp", "Invalid datetime"},
		{"data not an object", `{"event":"like","contentId":"c","data":"x"}`, "data", "Expected object, received string"},
		{"data too large", `{"event":"like","contentId":"c","data":{"x":"` + strings.Repeat("x", DefaultDataMax) + `"}}`, "data", "exceeds"},
		{"position a float", `{"event":"impression","contentId":"c","data":{"position":1.5}}`, "data.position", "Expected integer, received float"},
		{"position a string", `{"event":"impression","contentId":"c","data":{"position":"1"}}`, "data.position", "Expected integer, received string"},
		{"position negative", `{"event":"impression","contentId":"c","data":{"position":-1}}`, "data.position", "greater than or equal to 0"},
		{"entryPoint unknown", `{"event":"impression","contentId":"c","data":{"position":0,"entryPoint":"tv"}}`, "data.entryPoint", "Invalid enum value"},
		{"startupTime too large", `{"event":"playStart","contentId":"c","data":{"startupTime":3600001}}`, "data.startupTime", "less than or equal to 3600000"},
		{"autoplay not a boolean", `{"event":"playStart","contentId":"c","data":{"startupTime":1,"autoplay":"yes"}}`, "data.autoplay", "Expected boolean"},
		{"looped not a boolean", `{"event":"completion","contentId":"c","data":{"watchTime":1,"looped":0}}`, "data.looped", "Expected boolean"},
		{"watchTime a string", `{"event":"completion","contentId":"c","data":{"watchTime":"45"}}`, "data.watchTime", "Expected number, received string"},
		{"percentComplete over 100", `{"event":"watchProgress","contentId":"c","data":{"currentTime":1,"duration":2,"percentComplete":101}}`, "data.percentComplete", "less than or equal to 100"},
		{"rebuffer duration float", `{"event":"rebuffer","contentId":"c","data":{"duration":1.5,"currentTime":1}}`, "data.duration", "Expected integer"},
		{"platform empty", `{"event":"share","contentId":"c","data":{"platform":""}}`, "data.platform", "at least 1"},
		{"errorCode a float", `{"event":"error","contentId":"c","data":{"errorCode":1.5,"errorMessage":"m"}}`, "data.errorCode", "Expected string or integer"},
		{"errorCode a boolean", `{"event":"error","contentId":"c","data":{"errorCode":true,"errorMessage":"m"}}`, "data.errorCode", "Expected string or integer"},
		{"swipe without data", `{"event":"swipe","contentId":"c"}`, "data.fromContentId", "Required"},
		{"swipe to itself", `{"event":"swipe","contentId":"c","data":{"fromContentId":"c","watchTime":1}}`, "data.fromContentId", "Must differ"},
		{"swipe contentId and toContentId differ", `{"event":"swipe","contentId":"c","data":{"fromContentId":"a","toContentId":"b","watchTime":1}}`, "data.toContentId", "Must equal contentId"},
		{"swipe fromContentId invalid", `{"event":"swipe","contentId":"c","data":{"fromContentId":"a b","watchTime":1}}`, "data.fromContentId", "Invalid contentId"},
		{"swipe watchTimeOnFrom a string", `{"event":"swipe","contentId":"c","data":{"fromContentId":"a","watchTimeOnFrom":"1"}}`, "data.watchTimeOnFrom", "Expected number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := parse(t, tc.raw)
			if tc.field == "" {
				if p.Err == nil || len(p.Err.Issues.FormErrors) == 0 || !strings.Contains(p.Err.Issues.FormErrors[0], tc.msg) {
					t.Fatalf("got %+v", p.Err)
				}
				return
			}
			wantField(t, p, tc.field, tc.msg)
		})
	}
}

func TestParseValues(t *testing.T) {
	p := parse(t, `{"event":"swipe","eventId":"ev-1","contentId":"cnt_def456","userId":"u","deviceId":"d","sessionId":"s",
		"data":{"fromContentId":"cnt_abc123","watchTimeOnFrom":12.5,"direction":"next"}}`)
	if p.Err != nil {
		t.Fatal(p.Err.Issues)
	}
	recs := p.Records()
	if len(recs) != 2 || recs[0].Item != "cnt_def456" || recs[1].Item != "cnt_abc123" {
		t.Fatalf("records %+v", recs)
	}
	in, out := recs[0].Event, recs[1].Event
	if in.ID != "ev-1" || in.Role != "" || in.Other != "cnt_abc123" || in.WatchTime != 12.5 || in.UserID != "u" || in.SessionID != "s" || string(in.Data) == "" {
		t.Fatalf("in %+v", in)
	}
	if out.ID != "ev-1" || out.Role != actors.RoleSwipeOut || out.Other != "cnt_def456" || out.WatchTime != 12.5 || out.Data != nil || out.UserID != "" {
		t.Fatalf("out %+v", out)
	}
	// A data object reaches the log as sent; an integer errorCode is a string.
	p = parse(t, `{"event":"error","contentId":"c","data":{ "errorCode" : 4 , "errorMessage":"x"}}`)
	b, err := (&actors.Message{Content: []actors.ContentEvent{p.Event}}).Encode()
	if p.Err != nil || err != nil || p.Event.Code != "4" {
		t.Fatalf("%+v %v", p, err)
	}
	m, err := actors.DecodeMessage(b)
	if err != nil || len(m.Content) != 1 || string(m.Content[0].Data) != `{ "errorCode" : 4 , "errorMessage":"x"}` || m.Content[0].Code != "4" {
		t.Fatalf("decoded %+v, %v", m, err)
	}
	p = parse(t, `{"event":"completion","contentId":"c","data":{"watchTime":45.2,"loopCount":3}}`)
	if p.Err != nil || p.Event.WatchTime != 45.2 || p.Event.Loops != 3 {
		t.Fatalf("%+v", p)
	}
	// A rejected event keeps its valid eventId, so results can name it.
	p = parse(t, `{"event":"impression","contentId":"c","eventId":"keep-me"}`)
	if p.Err == nil || p.Event.ID != "keep-me" {
		t.Fatalf("%+v", p)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

func TestTimestampRules(t *testing.T) {
	iso := func(d time.Duration) string { return recv0.Add(d).Format(time.RFC3339Nano) }
	tests := []struct {
		name           string
		timestamp      string // "" = absent
		sentAt         string // event-level
		batchSent      *time.Time
		wantAt         time.Time
		adjusted, old  bool
		wantErrorField string
	}{
		{name: "absent: server time", wantAt: recv0},
		{name: "past, kept", timestamp: iso(-time.Hour), wantAt: recv0.Add(-time.Hour)},
		{name: "future within 5 min, kept", timestamp: iso(5 * time.Minute), wantAt: recv0.Add(5 * time.Minute)},
		{name: "future beyond 5 min, adjusted", timestamp: iso(5*time.Minute + time.Millisecond), wantAt: recv0, adjusted: true},
		{name: "a day in the future, adjusted", timestamp: iso(24 * time.Hour), wantAt: recv0, adjusted: true},
		{name: "exactly 24 h old, kept", timestamp: iso(-24 * time.Hour), wantAt: recv0.Add(-24 * time.Hour)},
		{name: "older than 24 h, too_old", timestamp: iso(-24*time.Hour - time.Millisecond), old: true},
		{name: "offset zone", timestamp: "2026-05-03T12:00:00+02:00", wantAt: recv0.Add(-30 * time.Minute)},
		// The device's clock is 2 days slow: sentAt − receivedAt corrects it.
		{name: "slow device clock corrected", timestamp: iso(-48*time.Hour - 10*time.Second), sentAt: iso(-48 * time.Hour), wantAt: recv0.Add(-10 * time.Second)},
		// The device's clock is an hour fast: corrected, not adjusted.
		{name: "fast device clock corrected", timestamp: iso(time.Hour - 3*time.Second), sentAt: iso(time.Hour), wantAt: recv0.Add(-3 * time.Second)},
		{name: "batch sentAt applies", timestamp: iso(-48*time.Hour - 10*time.Second), batchSent: ptrTime(recv0.Add(-48 * time.Hour)), wantAt: recv0.Add(-10 * time.Second)},
		{name: "event sentAt wins over batch", timestamp: iso(-10 * time.Second), sentAt: iso(0), batchSent: ptrTime(recv0.Add(-48 * time.Hour)), wantAt: recv0.Add(-10 * time.Second)},
		{name: "sentAt without timestamp: server time", sentAt: iso(-48 * time.Hour), wantAt: recv0},
		{name: "bad sentAt", timestamp: iso(0), sentAt: "soon", wantErrorField: "sentAt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]any{"event": "like", "contentId": "c"}
			if tc.timestamp != "" {
				m["timestamp"] = tc.timestamp
			}
			if tc.sentAt != "" {
				m["sentAt"] = tc.sentAt
			}
			b, _ := json.Marshal(m)
			p := ParseContentEvent(b, ParseOptions{ReceivedAt: recv0, SentAt: tc.batchSent})
			switch {
			case tc.wantErrorField != "":
				wantField(t, p, tc.wantErrorField, "Invalid datetime")
			case tc.old:
				if p.Err == nil || p.Err.Code != actors.ETooOld || len(p.Err.Issues.FieldErrors["timestamp"]) == 0 {
					t.Fatalf("got %+v, want too_old", p.Err)
				}
			default:
				if p.Err != nil {
					t.Fatalf("rejected: %v %+v", p.Err, p.Err.Issues)
				}
				if got := time.UnixMilli(p.Event.At).UTC(); !got.Equal(tc.wantAt) || p.Adjusted != tc.adjusted {
					t.Fatalf("at %s adjusted %v, want %s adjusted %v", got, p.Adjusted, tc.wantAt, tc.adjusted)
				}
				if p.Event.Recv != recv0.UnixMilli() {
					t.Fatalf("recv %d", p.Event.Recv)
				}
			}
		})
	}
}

func BenchmarkParseContentEvent(b *testing.B) {
	raw := []byte(`{"event":"playStart","eventId":"0193c2c3-aaaa-7000-8000-000000000001","contentId":"cnt_abc123","userId":"user_123","sessionId":"sess_xyz789","timestamp":"2026-05-03T10:29:59Z","data":{"startupTime":250,"rendition":"720p","codec":"h264","autoplay":true}}`)
	o := ParseOptions{ReceivedAt: recv0}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if p := ParseContentEvent(raw, o); p.Err != nil {
			b.Fatal(p.Err)
		}
	}
}

// A full batch of 100 events: the envelope walk plus each event's parse.
func BenchmarkParseContentBatch(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"sentAt":"2026-05-03T10:29:59Z","events":[`)
	for i := 0; i < MaxBatchEvents; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"event":"watchProgress","eventId":"0193c2c3-aaaa-7000-8000-%012d","contentId":"cnt_%d","sessionId":"sess_xyz789","timestamp":"2026-05-03T10:29:58Z","data":{"currentTime":%d.5,"duration":45.2,"percentComplete":34.3,"rendition":"720p"}}`, i, i%10, i%45)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	o := ParseOptions{ReceivedAt: recv0}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if !json.Valid(body) {
			b.Fatal("invalid")
		}
		evs, sent, err := SplitContentBatch(body)
		if err != nil {
			b.Fatal(err)
		}
		o.SentAt = sent
		for _, raw := range evs {
			if p := ParseContentEvent(raw, o); p.Err != nil {
				b.Fatal(p.Err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*MaxBatchEvents), "ns/event")
}
