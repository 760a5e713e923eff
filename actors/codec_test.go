package actors

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
)

func randomMessage(r *rand.Rand) *Message {
	str := func() string {
		if r.IntN(4) == 0 {
			return ""
		}
		return "s" + strconv.Itoa(r.IntN(1_000_000)) + "é\\x00"
	}
	opt := func() *string {
		if r.IntN(2) == 0 {
			return nil
		}
		s := str()
		return &s
	}
	raw := func() json.RawMessage {
		if r.IntN(3) == 0 {
			return nil
		}
		return json.RawMessage(`{"k":` + strconv.Itoa(r.IntN(100)) + `}`)
	}
	m := &Message{Ref: str()}
	for i := r.IntN(4); i > 0; i-- {
		m.Render = append(m.Render, RenderEvent{ID: str(), EventType: EventType(str()), ActorKind: ActorKind(str()),
			ShareID: opt(), SourceIP: opt(), UserAgent: opt(), Metadata: raw(), CreatedAt: UnixMilli(r.Int64N(1 << 42))})
	}
	for i := r.IntN(4); i > 0; i-- {
		m.Content = append(m.Content, ContentEvent{ID: str(), Type: ContentEventType(str()), Role: str(), Other: str(), UserID: str(),
			DeviceID: str(), SessionID: str(), At: r.Int64() - r.Int64(), Recv: r.Int64N(1 << 42), Data: raw(),
			StartupMS: r.Int64N(10000), WatchTime: r.Float64() * 100, StallMS: -r.Int64N(5), Loops: r.Int64N(3), Code: str()})
	}
	for i := r.IntN(3); i > 0; i-- {
		m.User = append(m.User, UserEvent{ID: str(), Type: ContentEventType(str()), ContentID: str(), UserID: str(), At: r.Int64() - r.Int64()})
	}
	return m
}

func TestCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		m := randomMessage(r)
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeMessage(b)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("message %d:\n got %+v\nwant %+v", i, got, m)
		}
		// Every strict prefix is malformed, never a panic or a wrong message.
		for cut := 0; cut < len(b); cut += 1 + len(b)/16 {
			if _, err := DecodeMessage(b[:cut]); err == nil && cut > 0 {
				t.Fatalf("message %d: prefix %d/%d decoded", i, cut, len(b))
			}
		}
	}
}

// The log's first format, JSON, still decodes: an old log replays.
func TestCodecReadsJSON(t *testing.T) {
	m, err := DecodeMessage([]byte(`{"render":[{"id":"e1","eventType":"viewed","actorKind":"partner","shareId":null,"createdAt":"2026-05-03T10:20:00.000Z"}],"ref":"r"}`))
	if err != nil || len(m.Render) != 1 || m.Render[0].ID != "e1" || m.Ref != "r" {
		t.Fatalf("%+v %v", m, err)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 8; i++ {
		b, _ := randomMessage(r).Encode()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil || len(b) == 0 || (b[0] != codecV1 && b[0] != codecV2 && b[0] != codecV3) {
			return
		}
		// Input need not be canonical (a varint may be longer than it
		// needs), but what it decodes to must survive a round trip.
		again, _ := m.Encode()
		m2, err := DecodeMessage(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip of a decoded message: %v", err)
		}
	})
}

// testdata/message_v1_*.bin were written by the encoder of before the
// family table (codecV1): they decode to the same messages and encode to
// the same bytes (a message without renderExt fields stays codecV1).
func TestCodecReadsOldMessages(t *testing.T) {
	for file, want := range map[string]*Message{
		"message_v1_render.bin":  {Ref: "r1", Render: snapRenderEvents(5, 40)},
		"message_v1_content.bin": {Ref: "r2", Content: snapContentEvents(5, 0)},
	} {
		b, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeMessage(b)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		// Decoding makes empty metadata nil, as the edge never sends it.
		again, _ := got.Encode()
		if wb, _ := want.Encode(); !bytes.Equal(again, b) || !bytes.Equal(wb, b) {
			t.Fatalf("%s: decodes to %+v", file, got)
		}
	}
}

// A render event's log-only fields (renderExt) survive the log, each alone
// and together, and an unknown flag is refused.
func TestCodecRenderExtension(t *testing.T) {
	base := snapRenderEvents(1, 0)[0]
	for _, ext := range []RenderEvent{{}, {IPKey: "k1"}, {Visitor: 1<<63 | 7}, {Bot: true}, {IPKey: "k", Visitor: 42, Bot: true}} {
		e := base
		e.IPKey, e.Visitor, e.Bot = ext.IPKey, ext.Visitor, ext.Bot
		b, _ := (&Message{Ref: "r", Render: []RenderEvent{e}}).Encode()
		m, err := DecodeMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Render[0]; got.IPKey != e.IPKey || got.Visitor != e.Visitor || got.Bot != e.Bot {
			t.Fatalf("ext %+v came back as %+v", ext, got)
		}
	}
	base.Bot = true
	b, _ := (&Message{Ref: "r", Render: []RenderEvent{base}}).Encode()
	// The flags (bot only) are the event's last octet here; the content
	// section's count comes after it.
	bad := bytes.Clone(b)
	bad[len(bad)-2] = 0x08
	if _, err := DecodeMessage(bad); err == nil {
		t.Fatal("an unknown renderExt flag decoded")
	}
}
