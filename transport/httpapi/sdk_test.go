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
	id := contentMsgID(k, base, nil)
	others := map[string]string{
		"other item":    contentMsgID(actors.ItemID{Project: "p1", Item: "b"}, base, nil),
		"other project": contentMsgID(actors.ItemID{Project: "p2", Item: "a"}, base, nil),
		"other order":   contentMsgID(k, []actors.ContentEvent{{ID: "e2"}, {ID: "e1"}}, nil),
		"other role":    contentMsgID(k, []actors.ContentEvent{{ID: "e1", Role: actors.RoleSwipeOut}, {ID: "e2"}}, nil),
		"fewer":         contentMsgID(k, base[:1], nil),
		"joined ids":    contentMsgID(k, []actors.ContentEvent{{ID: "e1e2"}}, nil),
		"user events":   contentMsgID(k, nil, []actors.UserEvent{{ID: "e1"}, {ID: "e2"}}),
	}
	for name, other := range others {
		if other == id {
			t.Errorf("%s: same message id", name)
		}
	}
	if contentMsgID(k, []actors.ContentEvent{{ID: "e1", Type: actors.Like, At: 5}, {ID: "e2"}}, nil) != id {
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

// A request's events with a userId make one extra message per user, after
// the content items' messages, holding each valid event of that user once;
// an event without a userId or a rejected one adds nothing.
func TestGroupByItemAddsOneMessagePerUser(t *testing.T) {
	ev := func(id, content, user string, typ actors.ContentEventType) actors.ParsedContentEvent {
		return actors.ParsedContentEvent{Event: actors.ContentEvent{ID: id, Type: typ, UserID: user, At: 7}, ContentID: content}
	}
	parsed := []actors.ParsedContentEvent{
		ev("e1", "c1", "ann", actors.Impression),
		ev("e2", "c2", "bob", actors.PlayStart),
		ev("e3", "c1", "ann", actors.Like),
		ev("e4", "c3", "", actors.Like),
		ev("e6", "c2", "bob", actors.WatchProgress), // telemetry, not an interaction
		ev("e1", "c1", "ann", actors.Impression),    // a repeat inside the request
		{Event: actors.ContentEvent{ID: "e5", UserID: "ann"}, Err: &actors.Error{Code: actors.EInvalid}},
	}
	res := ingestResult{results: make([]eventResult, len(parsed)), errs: make([]*actors.Error, len(parsed))}
	groups := groupByItem("p", parsed, res)
	var items []string
	users := map[actors.ItemID][]string{}
	for _, g := range groups {
		if len(g.msg.User) == 0 {
			items = append(items, g.key.Item)
			continue
		}
		if len(g.msg.Content) > 0 || len(g.events) > 0 {
			t.Fatalf("user message %v holds content records", g.key)
		}
		for _, u := range g.msg.User {
			users[g.key] = append(users[g.key], u.ID+":"+u.ContentID+":"+u.UserID)
		}
	}
	if len(items) != 3 || len(groups) != 5 { // c1, c2, c3; ann, bob
		t.Fatalf("items %v, %d messages", items, len(groups))
	}
	ann, bob := actors.UserItemID("p", "ann"), actors.UserItemID("p", "bob")
	if got := users[ann]; len(got) != 2 || got[0] != "e1:c1:ann" || got[1] != "e3:c1:ann" {
		t.Fatalf("ann: %v", got)
	}
	if got := users[bob]; len(got) != 1 || got[0] != "e2:c2:bob" {
		t.Fatalf("bob: %v", got)
	}
}
