package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

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
