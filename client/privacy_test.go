package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Erase sends exactly the member set, and both calls decode the answer
// (plain JSON, no envelope) or return the error envelope as an *Error.
func TestErasure(t *testing.T) {
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, r.Method+" "+r.URL.Path+" "+string(b))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost:
			w.WriteHeader(202)
			w.Write([]byte(`{"id":"0193c2d0-1b2c-7d3e-8f40-5a6b7c8d9e0f","kind":"email","status":"pending","step":"","itemsTotal":0,"itemsDone":0,"messagesDeleted":0,"error":null,"createdAt":"2026-12-07T05:40:00.000Z","finishedAt":null}`))
		case r.URL.Path == "/v1/privacy/erasures/nope":
			w.WriteHeader(404)
			w.Write([]byte(`{"error":{"code":"not_found","message":"erasure not found"},"meta":{"requestId":"req_1"}}`))
		default:
			w.Write([]byte(`{"id":"0193c2d0-1b2c-7d3e-8f40-5a6b7c8d9e0f","kind":"email","status":"done","step":"","itemsTotal":2,"itemsDone":2,"messagesDeleted":3,"error":null,"createdAt":"2026-12-07T05:40:00.000Z","finishedAt":"2026-12-07T05:40:02.000Z"}`))
		}
	}))
	defer srv.Close()
	c := mustNew(t, srv.URL, "sk_x")
	defer c.Close(context.Background())
	ctx := context.Background()

	e, err := c.Erase(ctx, ErasureSubject{Email: "ada@example.com"})
	if err != nil || e.Status != "pending" || e.Done() || e.Kind != "email" || e.FinishedAt != nil {
		t.Fatalf("Erase: %+v %v", e, err)
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(bodies[0][len("POST /v1/privacy/erasures "):]), &sent); err != nil || len(sent) != 1 || sent["email"] != "ada@example.com" {
		t.Fatalf("sent %q", bodies[0])
	}
	e, err = c.Erasure(ctx, e.ID)
	if err != nil || !e.Done() || e.MessagesDeleted != 3 || e.FinishedAt == nil {
		t.Fatalf("Erasure: %+v %v", e, err)
	}
	_, err = c.Erasure(ctx, "nope")
	var ce *Error
	if !errors.As(err, &ce) || ce.Status != 404 || ce.Code != "not_found" {
		t.Fatalf("unknown erasure: %v", err)
	}
}
