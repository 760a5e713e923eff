package actors

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

var recv0 = time.Date(2026, 5, 3, 10, 30, 0, 0, time.UTC)

func parse(t testing.TB, raw string) ParsedVideoEvent {
	t.Helper()
	return ParseVideoEvent([]byte(raw), ParseOptions{ReceivedAt: recv0})
}

type videoFile struct {
	ReceivedAt time.Time         `json:"receivedAt"`
	Events     []json.RawMessage `json:"events"`
}

// The aggregates of testdata/video_events.json must equal the figures
// computed by hand in testdata/video_expected.json.
func TestVideoAggregatesFromTestdata(t *testing.T) {
	var in videoFile
	readJSON(t, "testdata/video_events.json", &in)
	var want map[string]any
	readJSON(t, "testdata/video_expected.json", &want)
	delete(want, "_comment")

	states := map[string]*videoState{}
	var verdicts []bool
	for i, raw := range in.Events {
		p := ParseVideoEvent(raw, ParseOptions{ReceivedAt: in.ReceivedAt})
		if p.Err != nil {
			t.Fatalf("event %d rejected: %v %+v", i, p.Err, p.Err.Issues)
		}
		counted := false
		for _, r := range p.Records() {
			if states[r.Item] == nil {
				states[r.Item] = newVideoState()
			}
			ev := r.Event
			counted = states[r.Item].apply(&ev) || counted
		}
		verdicts = append(verdicts, counted)
	}
	for i, v := range verdicts {
		if v != (i != 23) {
			t.Errorf("event %d counted = %v (only event 23, a repeated e04, is a duplicate)", i, v)
		}
	}
	for item, w := range want {
		b, _ := json.Marshal(states[item].summary(item))
		var got any
		_ = json.Unmarshal(b, &got)
		if diff := jsonDiff("", w, got); diff != "" {
			t.Errorf("%s: %s\n got %s", item, diff, b)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// jsonDiff compares decoded JSON values; numbers agree to 1e-12 relative.
func jsonDiff(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, want an object", path, got)
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		for k := range keys {
			if d := jsonDiff(path+"."+k, w[k], g[k]); d != "" {
				return d
			}
		}
		return ""
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > 1e-12*math.Max(1, math.Abs(w)) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, w)
		}
		return ""
	default:
		if !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
		return ""
	}
}

// Every row of the seed's event tables: a valid event of each type, and the
// same event without each required field.
func TestParseSeedTableRows(t *testing.T) {
	valid := map[VideoType]map[string]any{
		Impression:    {"position": 0},
		PlayStart:     {"startupTime": 250},
		WatchProgress: {"currentTime": 15.5, "duration": 45.2},
		Completion:    {"watchTime": 45.2, "looped": false},
		Swipe:         {"fromContentId": "cnt_a", "toContentId": "cnt_b", "watchTime": 12.5},
		Like:          {},
		SocialShare:   {"platform": "instagram"},
		Save:          {},
		Rebuffer:      {"duration": 1200, "currentTime": 12.5},
		QualityChange: {"fromQuality": "720p", "toQuality": "480p"},
		PlaybackError: {"errorCode": "E42", "errorMessage": "decode failed"},
	}
	// Required beyond contentId, as the seed's tables list them. looped is
	// required there but absent from the seed's own batch example, so it
	// defaults to false; swipe's toContentId may come from contentId.
	required := map[VideoType][]string{
		Impression: {"position"}, PlayStart: {"startupTime"}, WatchProgress: {"currentTime", "duration"},
		Completion: {"watchTime"}, Swipe: {"fromContentId", "toContentId", "watchTime"}, SocialShare: {"platform"},
		Rebuffer: {"duration", "currentTime"}, QualityChange: {"fromQuality", "toQuality"}, PlaybackError: {"errorCode", "errorMessage"},
	}
	for _, typ := range VideoTypes {
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
		if typ != Swipe {
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
				wantField(t, parse(t, body(data, typ != Swipe || f != "toContentId")), "data."+f, "Required")
			})
		}
	}
	t.Run("completion without looped", func(t *testing.T) {
		if p := parse(t, `{"event":"completion","contentId":"c","data":{"watchTime":45.2}}`); p.Err != nil {
			t.Fatalf("rejected: %+v", p.Err.Issues)
		}
	})
}

func wantField(t *testing.T, p ParsedVideoEvent, field, msg string) {
	t.Helper()
	if p.Err == nil {
		t.Fatalf("accepted, want fieldErrors.%s", field)
	}
	if p.Err.Code != EInvalid {
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
	if out.ID != "ev-1" || out.Role != RoleSwipeOut || out.Other != "cnt_def456" || out.WatchTime != 12.5 || out.Data != nil || out.UserID != "" {
		t.Fatalf("out %+v", out)
	}
	// A data object reaches the log as sent; an integer errorCode is a string.
	p = parse(t, `{"event":"error","contentId":"c","data":{ "errorCode" : 4 , "errorMessage":"x"}}`)
	b, err := (&Message{Video: []VideoEvent{p.Event}}).Encode()
	if p.Err != nil || err != nil || p.Event.Code != "4" {
		t.Fatalf("%+v %v", p, err)
	}
	m, err := DecodeMessage(b)
	if err != nil || len(m.Video) != 1 || string(m.Video[0].Data) != `{ "errorCode" : 4 , "errorMessage":"x"}` || m.Video[0].Code != "4" {
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
			p := ParseVideoEvent(b, ParseOptions{ReceivedAt: recv0, SentAt: tc.batchSent})
			switch {
			case tc.wantErrorField != "":
				wantField(t, p, tc.wantErrorField, "Invalid datetime")
			case tc.old:
				if p.Err == nil || p.Err.Code != ETooOld || len(p.Err.Issues.FieldErrors["timestamp"]) == 0 {
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

func ptrTime(t time.Time) *time.Time { return &t }

func videoEv(id string, typ VideoType, recv time.Duration) *VideoEvent {
	return &VideoEvent{ID: id, Type: typ, At: recv0.Add(recv).UnixMilli(), Recv: recv0.Add(recv).UnixMilli()}
}

func TestVideoDedupeWindowAndBound(t *testing.T) {
	s := newVideoState()
	if !s.apply(videoEv("a", Like, 0)) || s.apply(videoEv("a", Like, time.Minute)) {
		t.Fatal("a repeated eventId must count once")
	}
	if !s.apply(videoEv("b", Save, 0)) {
		t.Fatal("another id is another event")
	}
	if s.apply(videoEv("a", Like, 24*time.Hour)) {
		t.Fatal("forgotten inside 24 hours")
	}
	// Past the window (25 h on the receive clock) the id is forgotten.
	if !s.apply(videoEv("a", Like, 25*time.Hour+time.Minute)) {
		t.Fatal("remembered past the window")
	}
	if s.counts.Like != 2 || s.counts.Save != 1 || s.total != 3 {
		t.Fatalf("counts %+v", s.counts)
	}

	// Past the capacity the oldest id is forgotten first.
	d := newIDDedupe(4)
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		if d.seen(id, 0) {
			t.Fatalf("%s seen", id)
		}
	}
	if d.n != 4 || len(d.ids) != 4 {
		t.Fatalf("holds %d ids (%d indexed), bound 4", d.n, len(d.ids))
	}
	if !d.seen("5", 0) || !d.seen("2", 0) || d.seen("1", 0) {
		t.Fatal("eviction order")
	}
}

// A restored state decides every later event as the live one does and shows
// the same figures, at any cut, with duplicates and the window in play.
func TestVideoSnapshotRestoreIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var events []*VideoEvent
	for i := 0; i < 3000; i++ {
		typ := VideoTypes[rng.IntN(len(VideoTypes))]
		if rng.IntN(10) == 0 {
			typ = VideoType(fmt.Sprintf("custom_%d", rng.IntN(80)))
		}
		ev := videoEv(fmt.Sprintf("id%d", rng.IntN(2500)), typ, time.Duration(i)*time.Minute)
		ev.StartupMS = rng.Int64N(5000)
		ev.WatchTime = rng.Float64() * 60
		ev.StallMS = rng.Int64N(3000)
		ev.Code = fmt.Sprintf("c%d", rng.IntN(100))
		if typ == Swipe && rng.IntN(2) == 0 {
			ev.Role = RoleSwipeOut
		}
		events = append(events, ev)
	}
	for _, cut := range []int{0, 1, 500, 1999, 2999} {
		live := newVideoState()
		live.dedupe = newIDDedupe(700) // small, so eviction happens too
		for _, e := range events[:cut] {
			c := *e
			live.apply(&c)
		}
		b, err := (&itemState{video: live}).encode()
		if err != nil {
			t.Fatal(err)
		}
		st, err := restoreState(b)
		if err != nil {
			t.Fatal(err)
		}
		restored := st.video
		restored.dedupe.capacity = 700
		for i, e := range events[cut:] {
			c1, c2 := *e, *e
			if a, b := live.apply(&c1), restored.apply(&c2); a != b {
				t.Fatalf("cut %d, event %d: live counted %v, restored %v", cut, cut+i, a, b)
			}
		}
		if !reflect.DeepEqual(live.summary("x"), restored.summary("x")) {
			t.Fatalf("cut %d: summaries differ", cut)
		}
	}
}

func TestVideoMapsAreBounded(t *testing.T) {
	s := newVideoState()
	for i := 0; i < MaxErrorCodes+10; i++ {
		ev := videoEv(fmt.Sprint(i), PlaybackError, 0)
		ev.Code = fmt.Sprintf("E%d", i)
		s.apply(ev)
	}
	if len(s.errors) != MaxErrorCodes+1 || s.errors[OtherKey] != 10 {
		t.Fatalf("%d codes, other %d", len(s.errors), s.errors[OtherKey])
	}
	ev := videoEv("again", PlaybackError, 0)
	ev.Code = "E3"
	s.apply(ev)
	if s.errors["E3"] != 2 {
		t.Fatal("a known code must still count under its own key")
	}
}

func TestLogHistPrecision(t *testing.T) {
	prev := uint16(0)
	for v := int64(0); v <= histMax; v += 1 + v/50 {
		i := histIndex(v)
		lo := histLower(i)
		if i < prev || lo > v || (v >= 256 && float64(v-lo)/float64(v) >= 1.0/128) || (v < 256 && lo != v) {
			t.Fatalf("v %d: bin %d lower %d (previous bin %d)", v, i, lo, prev)
		}
		if histIndex(lo) != i {
			t.Fatalf("v %d: lower bound %d is in bin %d, not %d", v, lo, histIndex(lo), i)
		}
		prev = i
	}
	if int(histIndex(histMax)) >= 256+14*128 || histIndex(1<<40) != histIndex(histMax) || histIndex(-5) != 0 {
		t.Fatal("range")
	}
	var h logHist
	vals := []int64{}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10000; i++ {
		v := int64(rng.NormFloat64()*400 + 900)
		if v < 0 {
			v = 0
		}
		vals = append(vals, v)
		h.add(v)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.95, 0.99} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.quantile(q)
		if got > exact || float64(exact-got) > float64(exact)/128 {
			t.Fatalf("q%.2f = %d, exact %d", q, got, exact)
		}
	}
}

func BenchmarkParseVideoEvent(b *testing.B) {
	raw := []byte(`{"event":"playStart","eventId":"0193c2c3-aaaa-7000-8000-000000000001","contentId":"cnt_abc123","userId":"user_123","sessionId":"sess_xyz789","timestamp":"2026-05-03T10:29:59Z","data":{"startupTime":250,"rendition":"720p","codec":"h264","autoplay":true}}`)
	o := ParseOptions{ReceivedAt: recv0}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if p := ParseVideoEvent(raw, o); p.Err != nil {
			b.Fatal(p.Err)
		}
	}
}

func BenchmarkVideoApply(b *testing.B) {
	s := newVideoState()
	types := []VideoType{Impression, PlayStart, WatchProgress, Completion, Rebuffer}
	evs := make([]VideoEvent, 1<<16)
	for i := range evs {
		evs[i] = VideoEvent{ID: fmt.Sprintf("0193c2c3-aaaa-7000-8000-%012d", i), Type: types[i%len(types)], At: int64(i), Recv: int64(i), StartupMS: int64(i % 3000), WatchTime: 10}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := evs[i%len(evs)]
		ev.Recv += int64(i / len(evs) * VideoDedupeWindowMS) // every pass is new: ids expire
		s.apply(&ev)
		i++
	}
}

// A full batch of 100 events: the envelope walk plus each event's parse.
func BenchmarkParseVideoBatch(b *testing.B) {
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
		evs, sent, err := SplitVideoBatch(body)
		if err != nil {
			b.Fatal(err)
		}
		o.SentAt = sent
		for _, raw := range evs {
			if p := ParseVideoEvent(raw, o); p.Err != nil {
				b.Fatal(p.Err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*MaxBatchEvents), "ns/event")
}

// The log message of one item with 10 events, as the edge encodes it and a
// partition consumer decodes it.
func BenchmarkVideoMessageCodec(b *testing.B) {
	m := &Message{Ref: "0123456789abcdef"}
	for i := 0; i < 10; i++ {
		m.Video = append(m.Video, VideoEvent{ID: fmt.Sprintf("0193c2c3-aaaa-7000-8000-%012d", i), Type: PlayStart, SessionID: "sess_xyz789",
			At: recv0.UnixMilli(), Recv: recv0.UnixMilli(), StartupMS: 250, Data: json.RawMessage(`{"startupTime":250,"rendition":"720p","codec":"h264","autoplay":true}`)})
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := m.Encode()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeMessage(p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10), "ns/event")
}
