package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Top sends the query it is given (zero fields left out), decodes the
// unwrapped answer, and turns an error envelope into an *Error.
func TestTop(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path+"?"+r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("metric") == "users" {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"code":"invalid_request","message":"invalid query parameters","issues":{"formErrors":[],"fieldErrors":{"metric":["distinct"]}}},"meta":{"requestId":"req_1"}}`))
			return
		}
		w.Write([]byte(`{"kind":"content","metric":"plays","window":"1h","asOf":"2026-12-07T05:40:12.345Z","items":[{"id":"a","value":4},{"id":"b","value":0.5}]}`))
	}))
	defer srv.Close()
	c := mustNew(t, srv.URL, "sk_x")
	defer c.Close(context.Background())
	ctx := context.Background()
	l, err := c.Top(ctx, "p 1", TopQuery{Kind: "content", Metric: "plays", Window: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Kind != "content" || l.Window != "1h" || l.AsOf == nil || !l.AsOf.Equal(time.Date(2026, 12, 7, 5, 40, 12, 345e6, time.UTC)) ||
		len(l.Items) != 2 || l.Items[1].ID != "b" || l.Items[1].Value != 0.5 {
		t.Fatalf("decoded %+v", l)
	}
	zero := int64(0)
	if _, err := c.Top(ctx, "p1", TopQuery{Kind: "content", Metric: "completionRate", Limit: 5, MinPlays: &zero}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Top(ctx, "p1", TopQuery{Kind: "content", Metric: "users"})
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || e.Code != "invalid_request" {
		t.Fatalf("distinct metric: %v", err)
	}
	want := []string{
		"/v1/projects/p 1/top?kind=content&metric=plays&window=1h",
		"/v1/projects/p1/top?kind=content&limit=5&metric=completionRate&minPlays=0",
		"/v1/projects/p1/top?kind=content&metric=users",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("request %d: %s, want %s", i, got[i], want[i])
		}
	}
}
