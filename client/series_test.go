package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The series reads: the query string they send (zero fields left out), the
// render answer unwrapped and the content answer in {"data","meta"}, and an
// error envelope as an *Error.
func TestSeriesReads(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path+"?"+r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Query().Get("metric") == "nope":
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"code":"invalid_request","message":"invalid series query","issues":{"formErrors":[],"fieldErrors":{"metric":["one of"]}}},"meta":{"requestId":"req_1"}}`))
		case r.URL.Path == "/v1/renders/r 1/series":
			w.Write([]byte(`{"metric":"viewed","interval":"minute","from":"2026-12-07T02:33:00.000Z","to":"2026-12-07T02:35:00.000Z","completeThrough":"2026-12-07T02:34:41.512Z","late":1,"uniques":{"viewers":0,"approximate":false},"buckets":[{"t":"2026-12-07T02:33:00.000Z","v":0},{"t":"2026-12-07T02:34:00.000Z","v":3}]}`))
		default:
			w.Write([]byte(`{"data":{"metric":"watchTime","interval":"hour","from":"2026-12-07T01:00:00.000Z","to":"2026-12-07T02:00:00.000Z","completeThrough":null,"late":0,"uniques":{"users":2,"sessions":3,"approximate":true},"buckets":[{"t":"2026-12-07T01:00:00.000Z","v":12.5}]},"meta":{"requestId":"req_2"}}`))
		}
	}))
	defer srv.Close()
	c := mustNew(t, srv.URL, "sk_x")
	defer c.Close(context.Background())
	ctx := context.Background()

	rs, err := c.RenderSeries(ctx, "r 1", SeriesQuery{Metric: "viewed"})
	if err != nil {
		t.Fatal(err)
	}
	if rs.Metric != "viewed" || rs.Late != 1 || len(rs.Buckets) != 2 || rs.Buckets[1].V != 3 ||
		!rs.Buckets[1].T.Equal(time.Date(2026, 12, 7, 2, 34, 0, 0, time.UTC)) ||
		rs.CompleteThrough == nil || rs.Uniques.Viewers == nil || *rs.Uniques.Viewers != 0 || rs.Uniques.Users != nil {
		t.Fatalf("render series decoded as %+v", rs)
	}

	from := time.Date(2026, 12, 7, 3, 0, 0, 0, time.FixedZone("x", 3600)) // 02:00Z
	to := time.Date(2026, 12, 7, 2, 0, 0, 500, time.UTC)
	cs, err := c.ContentSeries(ctx, "cnt_1", SeriesQuery{Metric: "watchTime", Interval: "hour", From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if cs.Metric != "watchTime" || cs.CompleteThrough != nil || cs.Buckets[0].V != 12.5 ||
		cs.Uniques.Users == nil || *cs.Uniques.Users != 2 || *cs.Uniques.Sessions != 3 || !cs.Uniques.Approximate || cs.Uniques.Viewers != nil {
		t.Fatalf("content series decoded as %+v", cs)
	}

	_, err = c.ContentSeries(ctx, "cnt_1", SeriesQuery{Metric: "nope"})
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || e.Code != "invalid_request" {
		t.Fatalf("bad metric: %v", err)
	}

	want := []string{
		"/v1/renders/r 1/series?metric=viewed",
		"/v1/contents/cnt_1/series?from=2026-12-07T02%3A00%3A00Z&interval=hour&metric=watchTime&to=2026-12-07T02%3A00%3A00.0000005Z",
		"/v1/contents/cnt_1/series?metric=nope",
	}
	if len(got) != len(want) {
		t.Fatalf("requests %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("request %d: %q, want %q", i, got[i], want[i])
		}
	}
}
