package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/engagedhq/engaged/client"
)

// fakeEngaged answers a few routes as engaged does, so that the examples
// run on their own: the batch route accepts every event about cnt_intro
// and rejects the others as unknown, and every other route is a 404.
func fakeEngaged() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v1/events/batch" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":"not_found","message":"no content item with that id in this key's project"},"meta":{"requestId":"req_1"}}`)
			return
		}
		var body struct{ Events []client.Event }
		json.NewDecoder(r.Body).Decode(&body)
		type result struct {
			Status  string `json:"status"`
			EventID string `json:"eventId"`
			Error   any    `json:"error,omitempty"`
		}
		var out struct {
			Data struct {
				Received int      `json:"received"`
				Failed   int      `json:"failed"`
				Results  []result `json:"results"`
			} `json:"data"`
		}
		for _, ev := range body.Events {
			if ev.ContentID == "cnt_intro" {
				out.Data.Received++
				out.Data.Results = append(out.Data.Results, result{Status: "accepted", EventID: ev.EventID})
				continue
			}
			out.Data.Failed++
			out.Data.Results = append(out.Data.Results, result{Status: "rejected", EventID: ev.EventID, Error: map[string]any{
				"code": "invalid_request", "message": "event refers to an unknown content item",
				"issues": map[string]any{"formErrors": []string{}, "fieldErrors": map[string][]string{"contentId": {"Unknown contentId"}}},
			}})
		}
		json.NewEncoder(w).Encode(out)
	}))
}

// New checks its input: a base URL without a scheme is an error, not a
// client that fails on every call.
func ExampleNew() {
	_, err := client.New("engaged.example.com", "pk_live_123")
	fmt.Println(err)
	// Output: engaged: base URL "engaged.example.com" is not an http(s) URL without query
}

// Track queues events and returns at once; Flush waits until the server
// answered each. Events the server rejects go to WithOnError.
func ExampleClient_Track() {
	srv := fakeEngaged()
	defer srv.Close()

	c, err := client.New(srv.URL, "pk_live_123",
		client.WithBatching(50, time.Second),
		client.WithOnError(func(r client.Rejection) {
			fmt.Printf("rejected %s about %s: %s\n", r.Event.Event, r.Event.ContentID, r.Err.Code)
		}))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	c.Track(ctx, client.Event{Event: "impression", ContentID: "cnt_intro", UserID: "user_42"})
	c.Track(ctx, client.Event{Event: "playStart", ContentID: "cnt_intro", Data: map[string]any{"startupTime": 180}})
	c.Track(ctx, client.Event{Event: "like", ContentID: "cnt_typo"})
	if err := c.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("still queued:", c.Queued())
	if err := c.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// rejected like about cnt_typo: invalid_request
	// still queued: 0
}

// SendBatch sends now, without the queue and its retries, and returns one
// verdict per event, in order.
func ExampleClient_SendBatch() {
	srv := fakeEngaged()
	defer srv.Close()
	c, err := client.New(srv.URL, "sk_live_123")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())

	reply, err := c.SendBatch(context.Background(), []client.Event{
		{Event: "impression", ContentID: "cnt_intro", EventID: "evt_1"},
		{Event: "impression", ContentID: "cnt_gone", EventID: "evt_2"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range reply.Data.Results {
		fmt.Println(*r.EventID, r.Status)
	}
	// Output:
	// evt_1 accepted
	// evt_2 rejected
}

// Every error answer is an *Error with the envelope's code, and matches one
// of the sentinel errors with errors.Is.
func ExampleError() {
	srv := fakeEngaged()
	defer srv.Close()
	c, err := client.New(srv.URL, "sk_live_123")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())

	_, err = c.ContentEngagement(context.Background(), "cnt_nobody")
	fmt.Println(errors.Is(err, client.ErrNotFound))
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code, e.RequestID)
	}
	// Output:
	// true
	// 404 not_found req_1
}

// Admin calls the operator's admin API with the server's admin token: here
// a project whose SDK events may register their content ids.
func ExampleAdmin_CreateProject() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"id": "0190f3c6-0000-7000-8000-000000000001", "name": in["name"],
			"createdAt": "2026-01-02T03:04:05.000Z", "allowedOrigins": nil, "autoCreateContent": in["autoCreateContent"]})
	}))
	defer srv.Close()

	a, err := client.NewAdmin(srv.URL, "the-admin-token")
	if err != nil {
		log.Fatal(err)
	}
	p, err := a.CreateProject(context.Background(), "shorts", client.ProjectSettings{AutoCreateContent: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Name, p.AutoCreateContent)
	// Output: shorts true
}
