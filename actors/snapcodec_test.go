package actors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// snapRenderEvents are the events of a busy render: views, downloads and
// prints through shares and without, from distinct addresses (dedupe
// entries), share links created and one revoked, e-mail, each with
// metadataLen bytes of JSON metadata.
func snapRenderEvents(n, metadataLen int) []RenderEvent {
	var out []RenderEvent
	for i := range n {
		typ := []EventType{Viewed, Downloaded, Printed, EmailOpened, EmailSent, ShareCreated, ShareRevoked}[i%7]
		share := fmt.Sprintf("shr_%02d", i%5)
		if i%11 == 0 {
			share = "" // the partner's own events
		}
		e := ev(fmt.Sprintf("evt_%04d", i), typ, share, fmt.Sprintf("203.0.%d.%d", i/250, i%250), time.Duration(i)*1500*time.Millisecond)
		if typ == ShareRevoked && share != "shr_01" {
			e.EventType = Viewed // only shr_01 is revoked
		}
		ua := "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/139.0"
		e.UserAgent = &ua
		if i%6 != 0 {
			pad := strings.Repeat("x", max(0, metadataLen-60))
			e.Metadata = json.RawMessage(fmt.Sprintf(`{"campaign":"spring-%d","page":%d,"note":"%s","ok":true}`, i%9, i%4, pad))
		}
		out = append(out, e)
	}
	return out
}

// snapRender is the item of snapRenderEvents(n, metadataLen).
func snapRender(n, metadataLen int) *itemState {
	s := itemWith(newRenderState())
	for _, e := range snapRenderEvents(n, metadataLen) {
		s.renders().apply(e)
	}
	return s
}

// snapContentEvents are n SDK events of every documented type and a few
// custom ones, with error codes, platforms, startup times over many
// histogram bins and swipes both ways, every one with a distinct eventId.
func snapContentEvents(n int, from int) []ContentEvent {
	var out []ContentEvent
	for i := from; i < from+n; i++ {
		var typ ContentEventType
		if i%13 == 12 {
			typ = ContentEventType(fmt.Sprintf("custom_step%d", i%4))
		} else {
			typ = ContentEventTypes[i%len(ContentEventTypes)]
		}
		at := int64(1_780_000_000_000 + i*2000)
		e := ContentEvent{ID: fmt.Sprintf("evt_%06d", i), Type: typ, UserID: "u1", SessionID: "s1", At: at, Recv: at + 40,
			StartupMS: int64(i*37) % 9000, WatchTime: float64(i%120) + 0.125, StallMS: int64(i % 900), Loops: int64(i % 3),
			Code: fmt.Sprintf("code%d", i%6)}
		if typ == Swipe && i%2 == 0 {
			e.Role, e.Other = RoleSwipeOut, "cnt_next"
		}
		out = append(out, e)
	}
	return out
}

func snapContent(n int) *itemState {
	s := itemWith(newContentState())
	for _, e := range snapContentEvents(n, 0) {
		s.contents().apply(&e)
	}
	return s
}

// oldEncode is the JSON encoder snapshots were written with before the binary
// form, kept to make the old snapshots still in the store.
func oldEncode(t testing.TB, s *itemState) []byte {
	t.Helper()
	ss := map[string]any{}
	if r := s.renders(); r != nil { // the JSON form carried the events decoded
		rs := r.snapshot()
		rs.Recent, rs.RecentJSON = r.summary().Recent, nil
		ss["render"] = rs
	}
	if c := s.contents(); c != nil {
		ss["video"] = c.snapshot()
	}
	b, err := json.Marshal(ss)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRestore(t testing.TB, b []byte) *itemState {
	t.Helper()
	s, err := restoreState(b)
	if err != nil {
		t.Fatalf("restore %.40q: %v", b, err)
	}
	return &s
}

func mustEncode(t testing.TB, s *itemState) []byte {
	t.Helper()
	return mustEncodeSnapshot(t, s.snapshot())
}

// requireSameState compares what an item shows and what it would write.
// requireSameOldState is requireSameState for a state restored from a form
// written before the series and sketches (JSON, snapV1, section version 1):
// those restore empty, so it compares copies of both states without them.
func requireSameOldState(t testing.TB, what string, want, got *itemState) {
	t.Helper()
	strip := func(s *itemState) *itemState {
		c := mustRestore(t, mustEncode(t, s))
		if r := c.renders(); r != nil {
			r.c = newComponents(renderSpec)
		}
		if v := c.contents(); v != nil {
			v.c = newComponents(contentSpec)
		}
		return c
	}
	requireSameState(t, what, strip(want), strip(got))
}

func requireSameState(t testing.TB, what string, want, got *itemState) {
	t.Helper()
	if (want.renders() == nil) != (got.renders() == nil) || (want.contents() == nil) != (got.contents() == nil) {
		t.Fatalf("%s: render %v/%v, content %v/%v", what, want.renders() != nil, got.renders() != nil, want.contents() != nil, got.contents() != nil)
	}
	if want.renders() != nil {
		if w, g := want.renders().summary(), got.renders().summary(); !reflect.DeepEqual(w, g) {
			t.Fatalf("%s: render summaries differ\nwant %+v\n got %+v", what, w, g)
		}
		if w, g := want.renders().shareCounts(), got.renders().shareCounts(); !reflect.DeepEqual(w, g) {
			t.Fatalf("%s: share counts differ\nwant %+v\n got %+v", what, w, g)
		}
		if w, g := want.renders().appendJSON(nil, 0, false), got.renders().appendJSON(nil, 0, false); !bytes.Equal(w, g) {
			t.Fatalf("%s: summary JSON differs\nwant %s\n got %s", what, w, g)
		}
	}
	if want.contents() != nil {
		if w, g := want.contents().summary("c"), got.contents().summary("c"); !reflect.DeepEqual(w, g) {
			t.Fatalf("%s: content summaries differ\nwant %+v\n got %+v", what, w, g)
		}
	}
	if w, g := mustEncode(t, want), mustEncode(t, got); !bytes.Equal(w, g) {
		t.Fatalf("%s: encodings differ (%d and %d bytes)", what, len(w), len(g))
	}
}

// The binary form and the old JSON of the same state restore to the same
// state, equal to the one that never stopped, and all three decide later
// events alike: duplicates inside the windows, a revoked share, new ids.
func TestSnapshotBinaryEqualsJSON(t *testing.T) {
	tests := []struct {
		name  string
		state func() *itemState
		// more applies the same later events to s, and returns their verdicts.
		more func(s *itemState) []bool
	}{
		{"render", func() *itemState { return snapRender(200, 200) }, func(s *itemState) []bool {
			var out []bool
			events := snapRenderEvents(260, 200)
			for _, e := range append(events[150:], events[190:]...) { // the last 10 again, inside the window
				out = append(out, s.renders().apply(e))
			}
			return out
		}},
		{"content", func() *itemState { return snapContent(3000) }, func(s *itemState) []bool {
			var out []bool
			for _, e := range append(snapContentEvents(200, 2900), snapContentEvents(50, 0)...) {
				out = append(out, s.contents().apply(&e))
			}
			return out
		}},
		{"both", func() *itemState {
			s := snapRender(40, 100)
			s.fams[famContent] = snapContent(100).fams[famContent]
			return s
		}, func(s *itemState) []bool {
			var out []bool
			for _, e := range snapRenderEvents(45, 100)[35:] {
				out = append(out, s.renders().apply(e))
			}
			for _, e := range snapContentEvents(20, 90) {
				out = append(out, s.contents().apply(&e))
			}
			return out
		}},
		{"empty", func() *itemState { return &itemState{} }, func(*itemState) []bool { return nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			live := tc.state()
			bin := mustEncode(t, live)
			if bin[0] != snapV2 {
				t.Fatalf("first byte %#x", bin[0])
			}
			fromBin, fromJSON := mustRestore(t, bin), mustRestore(t, oldEncode(t, live))
			requireSameOldState(t, "binary and JSON", fromJSON, fromBin)
			requireSameState(t, "live and binary", live, fromBin)
			if again := mustEncode(t, fromBin); !bytes.Equal(again, bin) {
				t.Fatal("restored state re-encodes differently")
			}

			want := tc.more(live)
			if got := tc.more(fromBin); !reflect.DeepEqual(got, want) {
				t.Fatalf("verdicts after binary restore %v, live %v", got, want)
			}
			if got := tc.more(fromJSON); !reflect.DeepEqual(got, want) {
				t.Fatalf("verdicts after JSON restore %v, live %v", got, want)
			}
			if tc.name != "empty" && !containsBoth(want) {
				t.Fatalf("verdicts %v: the later events must test both outcomes", want)
			}
			requireSameState(t, "live and binary, after more events", live, fromBin)
			requireSameOldState(t, "live and JSON, after more events", live, fromJSON)
		})
	}
}

func containsBoth(v []bool) bool {
	var t, f bool
	for _, x := range v {
		t, f = t || x, f || !x
	}
	return t && f
}

// testdata/snapshot_json.json is a snapshot as the JSON encoder wrote it
// (render and content halves); the store holds such rows until their items
// are snapshotted again.
func TestSnapshotJSONStillRestores(t *testing.T) {
	b, err := os.ReadFile("testdata/snapshot_json.json")
	if err != nil {
		t.Fatal(err)
	}
	s := mustRestore(t, bytes.TrimSpace(b))
	r := s.renders().summary()
	if r.Counts != (RenderCounts{Viewed: 2, Downloaded: 1, ShareCreated: 1}) || r.LinkOpens != 1 || len(r.Recent) != 4 ||
		r.Recent[0].ID != "evt_4" || string(r.Recent[0].Metadata) != `{"page":2}` || r.Recent[3].Metadata != nil {
		t.Fatalf("render %+v", r)
	}
	if sh := s.renders().shareCounts()["shr_1"]; sh.Counts.Viewed != 1 || !sh.Created || sh.Revoked {
		t.Fatalf("share %+v", sh)
	}
	if s.renders().apply(ev("again", Viewed, "shr_1", "198.51.100.7", 2*time.Minute)) {
		t.Fatal("the restored dedupe entry must reject a repeat inside the window")
	}
	c := s.contents().summary("c")
	if c.Counts.PlayStart != 2 || c.Counts.Like != 1 || c.CustomCounts["custom_tap"] != 1 || c.WatchTime.Total != 12.5 ||
		c.StartupTime.Samples != 2 || *c.StartupTime.P50 != 300 || c.Errors.ByCode["E1"] != 1 {
		t.Fatalf("content %+v", c)
	}
	if s.contents().apply(&ContentEvent{ID: "evt_b", Type: Like, At: 1_780_000_000_500, Recv: 1_780_000_000_500}) {
		t.Fatal("the restored eventId dedupe must reject evt_b")
	}

	// Written again, it is binary, and says the same.
	again := mustRestore(t, mustEncode(t, s))
	requireSameState(t, "JSON fixture and its binary", s, again)
}

// Malformed binary snapshots are errors, never panics or a wrong state.
func TestSnapshotDecodeRejects(t *testing.T) {
	good := mustEncode(t, snapRender(30, 50))
	content := mustEncode(t, snapContent(20))
	tests := []struct {
		name string
		b    []byte
	}{
		{"version only", []byte{snapV1}},
		{"bad presence flag", []byte{snapV1, 2, 0}},
		{"trailing byte", append(append([]byte{}, good...), 0)},
		{"recent count past the end", []byte{snapV1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"string length past the end", []byte{snapV1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x03, 'a'}},
		{"share flags", append(bytes.Clone(good[:len(good)-2]), 4, 0)}, // the last share's flags, then botViews (0)
		{"v2 count past the end", []byte{snapV2, 3, 1, 1, 0}},
		{"v2 unknown family", []byte{snapV2, 1, 0x7f, 1, 0}},
		{"v2 unknown section version", bytes.Replace(good, []byte{snapV2, 1, families[famRender].tag, families[famRender].version}, []byte{snapV2, 1, families[famRender].tag, 9}, 1)},
		{"v2 the same family twice", append([]byte{snapV2, 2}, append(content[2:], content[2:]...)...)},
		{"v2 body shorter than its section", longerSection(good)},
		{"non-finite watch time", bytes.Replace(mustEncodeSnapshot(t, contentOnly(&contentSnapshot{WatchTime: 1.5})),
			appendF64(nil, 1.5), appendF64(nil, math.Inf(1)), 1)},
		{"histogram bin out of range", mustEncodeSnapshot(t, contentOnly(&contentSnapshot{Startup: []histBin{{I: 60000, N: 1}}}))},
		{"dedupe entries cut", mustEncodeSnapshot(t, contentOnly(&contentSnapshot{Dedupe: dedupeSnapshot{Entries: []byte{1, 2, 3}}}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := restoreState(tc.b); err == nil {
				t.Fatal("restored")
			}
		})
	}
	for cut := range len(good) {
		if _, err := restoreState(good[:cut]); err == nil && cut > 0 {
			t.Fatalf("prefix %d/%d restored", cut, len(good))
		}
	}
}

// longerSection is the snapV2 snapshot b of one section, its section one
// byte longer than the body.
func longerSection(b []byte) []byte {
	n, w := binary.Uvarint(b[4:])
	out := binary.AppendUvarint(bytes.Clone(b[:4]), n+1)
	return append(append(out, b[4+w:]...), 0)
}

// contentOnly is the snapshot of an item holding the content family only.
func contentOnly(c *contentSnapshot) *stateSnapshot {
	var ss stateSnapshot
	ss.sections[famContent] = c
	return &ss
}

// testdata/snapshot_v1_*.bin were written by the snapV1 encoder (before the
// family sections of snapV2) from the items built here: they restore to the
// same state, decide later events the same, and are written again as the
// bytes of the state that never stopped, so replaying the same log still
// gives byte-identical snapshots.
func TestSnapshotV1StillRestores(t *testing.T) {
	both := func() *itemState {
		s := snapRender(60, 80)
		s.fams[famContent] = snapContent(400).fams[famContent]
		return s
	}
	tests := []struct {
		file  string
		state func() *itemState
	}{
		{"snapshot_v1_render.bin", func() *itemState { return snapRender(60, 80) }},
		{"snapshot_v1_content.bin", func() *itemState { return snapContent(400) }},
		{"snapshot_v1_both.bin", both},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			old, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if old[0] != snapV1 {
				t.Fatalf("fixture's first byte %#x", old[0])
			}
			live, restored := tc.state(), mustRestore(t, old)
			requireSameOldState(t, "live and snapV1", live, restored)
			if a, b := mustEncode(t, tc.state()), mustEncode(t, tc.state()); !bytes.Equal(a, b) {
				t.Fatal("the same events encode differently")
			}
			var later []bool
			for _, s := range []*itemState{live, restored} {
				var out []bool
				for _, e := range snapRenderEvents(70, 80)[55:] {
					if r := s.renders(); r != nil {
						out = append(out, r.apply(e))
					}
				}
				for _, e := range snapContentEvents(50, 380) {
					if c := s.contents(); c != nil {
						out = append(out, c.apply(&e))
					}
				}
				if later != nil && !reflect.DeepEqual(out, later) {
					t.Fatalf("verdicts after restore %v, live %v", out, later)
				}
				later = out
			}
			if !containsBoth(later) {
				t.Fatalf("verdicts %v: the later events must test both outcomes", later)
			}
			requireSameOldState(t, "live and snapV1, after more events", live, restored)
		})
	}
}

func mustEncodeSnapshot(t testing.TB, ss *stateSnapshot) []byte {
	t.Helper()
	b, err := ss.encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Logs the encoded sizes, JSON and binary: go test -run SnapshotSizes -v ./actors
func TestSnapshotSizes(t *testing.T) {
	render := itemWith(newRenderState())
	for _, e := range snapRenderEvents(106, 200) { // 106 events leave 50 dedupe entries
		if e.Metadata == nil {
			e.Metadata = json.RawMessage(fmt.Sprintf(`{"campaign":"spring","page":1,"note":"%s"}`, strings.Repeat("y", 160)))
		}
		render.renders().apply(e)
	}
	if n := len(render.renders().snapshot().Dedupe); n != 50 {
		t.Fatalf("%d dedupe entries, want 50", n)
	}
	content := snapContent(1000)
	if n := content.contents().dedupe.n; n != 1000 {
		t.Fatalf("%d dedupe ids, want 1000", n)
	}
	for _, c := range []struct {
		name string
		s    *itemState
	}{{"render, 25 recent with ~200 B metadata, 50 dedupe entries", render}, {"content, 1,000 dedupe ids", content}} {
		j, b := oldEncode(t, c.s), mustEncode(t, c.s)
		t.Logf("%s: JSON %d B, binary %d B (%.0f %%)", c.name, len(j), len(b), 100*float64(len(b))/float64(len(j)))
	}
}

func FuzzSnapshotDecode(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input it finds, which
	// with seeds of a few KB took most of a 60 s run.
	small := snapRender(8, 0) // with a share created and one revoked
	small.fams[famContent] = snapContent(12).fams[famContent]
	for _, s := range []*itemState{{}, snapRender(8, 0), snapContent(12), small} {
		f.Add(mustEncode(f, s))
	}
	tiny := snapRender(2, 0)
	tiny.fams[famContent] = snapContent(3).fams[famContent]
	f.Add(oldEncode(f, tiny))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := restoreState(b)
		if err != nil {
			return
		}
		// Input need not be canonical (JSON, long varints, unsorted keys,
		// entries the snapshot drops), but what it restores to must encode,
		// and that encoding must restore to the same state.
		enc := mustEncode(t, &s)
		again := mustRestore(t, enc)
		requireSameState(t, "decoded and re-encoded", &s, again)
	})
}

// The round encodes a snapshot on its own goroutine while the actor goes on
// applying events: the snapshot must share nothing the actor writes.
func TestSnapshotEncodeWhileApplying(t *testing.T) {
	s := snapContent(200)
	s.fams[famRender] = snapRender(50, 20).fams[famRender]
	ss := s.snapshot()
	done := make(chan []byte)
	go func() {
		b, _ := ss.encode()
		done <- b
	}()
	for _, e := range snapContentEvents(200, 200) {
		s.contents().apply(&e)
	}
	for _, e := range snapRenderEvents(100, 20)[50:] {
		s.renders().apply(e)
	}
	b := <-done
	if got := mustRestore(t, b).contents().summary("c"); got.Total != snapContent(200).contents().summary("c").Total {
		t.Fatalf("snapshot changed after it was taken: total %d", got.Total)
	}
}
