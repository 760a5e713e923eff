package transport

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"engaged/actors"
)

// A retried request produces the same per-item message id, and JetStream
// then reports the duplicate, which the SDK handler answers without waiting
// for verdicts that will never come.
func TestPublishAckReportsDuplicate(t *testing.T) {
	ctx := context.Background()
	l, _ := startLog(t, 4)
	k := actors.ItemID{Project: "p1", Item: "cnt_a"}
	evs := []actors.ContentEvent{{ID: "e1", Type: actors.Like}, {ID: "e2", Type: actors.Save}}
	publish := func(ref string) (seq uint64, dup bool) {
		t.Helper()
		p, _ := (&actors.Message{Content: evs, Ref: ref}).Encode()
		return publish(t, l, k, contentMsgID(k, evs), p)
	}
	s1, d1 := publish("r1")
	s2, d2 := publish("r2") // another try, another ref: same message id
	if d1 || !d2 || s1 != s2 {
		t.Fatalf("first seq %d dup %v, retry seq %d dup %v", s1, d1, s2, d2)
	}
	var refs []string
	if err := l.Replay(ctx, k, 0, 0, func(_ uint64, m *actors.Message) { refs = append(refs, m.Ref) }); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0] != "r1" {
		t.Fatalf("stored %v, want the first try only", refs)
	}
}

func TestContentMsgIDDependsOnItemAndRecords(t *testing.T) {
	k := actors.ItemID{Project: "p1", Item: "a"}
	base := []actors.ContentEvent{{ID: "e1"}, {ID: "e2"}}
	id := contentMsgID(k, base)
	others := map[string]string{
		"other item":    contentMsgID(actors.ItemID{Project: "p1", Item: "b"}, base),
		"other project": contentMsgID(actors.ItemID{Project: "p2", Item: "a"}, base),
		"other order":   contentMsgID(k, []actors.ContentEvent{{ID: "e2"}, {ID: "e1"}}),
		"other role":    contentMsgID(k, []actors.ContentEvent{{ID: "e1", Role: actors.RoleSwipeOut}, {ID: "e2"}}),
		"fewer":         contentMsgID(k, base[:1]),
		"joined ids":    contentMsgID(k, []actors.ContentEvent{{ID: "e1e2"}}),
	}
	for name, other := range others {
		if other == id {
			t.Errorf("%s: same message id", name)
		}
	}
	if contentMsgID(k, []actors.ContentEvent{{ID: "e1", Type: actors.Like, At: 5}, {ID: "e2"}}) != id {
		t.Error("the id must depend only on item, roles and event ids")
	}
}

// The hand-written batch response is the JSON encoding/json writes.
func TestBatchResultJSON(t *testing.T) {
	id1, id2 := "evt_1", `we"ird<&>`
	ts := actors.NewTime(time.Date(2026, 5, 3, 10, 20, 0, 0, time.UTC))
	r := batchResult{Received: 2, Failed: 2, Results: []eventResult{
		{Status: statusAccepted, EventID: &id1, Timestamp: &ts},
		{Status: "duplicate", EventID: &id2},
		{Status: statusRejected, EventID: nil, Error: &errorBody{Code: actors.EInvalid, Message: "m",
			Issues: &actors.Issues{FormErrors: []string{}, FieldErrors: map[string][]string{"contentId": {"Required"}}}}},
		{Status: statusRejected, EventID: &id1, Error: &errorBody{Code: actors.ETooOld, Message: "old"}},
	}}
	want, err := json.Marshal(envelope{Data: r, Meta: meta{RequestID: "req_1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.appendEnvelope(nil, "req_1"); string(got) != string(want) {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}
