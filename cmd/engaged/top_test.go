package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engagedhq/engaged/client"
)

// topAnswer is the body of GET /v1/projects/:projectId/top.
type topAnswer struct {
	Kind, Metric, Window string
	AsOf                 *time.Time
	Items                []struct {
		ID    string  `json:"id"`
		Value float64 `json:"value"`
	}
}

// TestTopEndToEnd posts a few hundred contents' and renders' events over
// every partition and checks top against the counts posted, once asOf
// covers the last post: exact values, ties by id ascending, every window;
// then the refusals (403, 404, 400 in the error envelope). Every exchange
// is validated against the OpenAPI document (do).
func TestTopEndToEnd(t *testing.T) {
	e := newEnv(t)
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	other := newTenant(t, e)
	rng := rand.New(rand.NewPCG(20, 5))

	const contents = 300
	type figures struct{ plays, completions, likes int }
	want := map[string]*figures{}
	var events []string
	for i := range contents {
		id := fmt.Sprintf("cnt_%03d", i)
		if r := do(t, "POST", s.base+"/v1/contents", tn.sk, `{"id":"`+id+`"}`); r.status != 201 {
			t.Fatalf("create %s: %d %s", id, r.status, r.body)
		}
		f := &figures{plays: rng.IntN(6), likes: rng.IntN(3)}
		f.completions = rng.IntN(f.plays + 1)
		want[id] = f
		for j := range f.plays {
			events = append(events, fmt.Sprintf(`{"eventId":"p%d-%d","event":"playStart","contentId":"%s","data":{"startupTime":90}}`, i, j, id))
		}
		for j := range f.completions {
			events = append(events, fmt.Sprintf(`{"eventId":"c%d-%d","event":"completion","contentId":"%s","data":{"watchTime":12}}`, i, j, id))
		}
		for j := range f.likes {
			events = append(events, fmt.Sprintf(`{"eventId":"l%d-%d","event":"like","contentId":"%s"}`, i, j, id))
		}
	}
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	for len(events) > 0 {
		n := min(len(events), 100)
		if b := s.batch(t, tn.pk, `{"events":[`+strings.Join(events[:n], ",")+`]}`); b.Data.Received != n {
			t.Fatalf("batch: %v", b.statuses())
		}
		events = events[n:]
	}
	renders := map[string]int{}
	for range 12 {
		id := adminJSON(t, e, "render", "create", "--project", tn.project)["id"].(string)
		renders[id] = rng.IntN(4)
		for range renders[id] {
			// Share links: share_created is counted each time (downloads
			// from one address are deduplicated for five minutes).
			if r := do(t, "POST", s.base+"/v1/renders/"+id+"/shares", tn.sk, ""); r.status != 201 {
				t.Fatalf("share: %d %s", r.status, r.body)
			}
		}
	}
	posted := time.Now()

	top := func(key, project, query string) response {
		return do(t, "GET", s.base+"/v1/projects/"+project+"/top?"+query, key, "")
	}
	// ranked is the expected list: value descending, then id ascending.
	ranked := func(vals map[string]float64, limit int) []string {
		ids := make([]string, 0, len(vals))
		for id := range vals {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b string) int { return cmp.Or(cmp.Compare(vals[b], vals[a]), cmp.Compare(a, b)) })
		out := make([]string, 0, limit)
		for _, id := range ids[:min(limit, len(ids))] {
			out = append(out, fmt.Sprintf("%s=%g", id, vals[id]))
		}
		return out
	}
	check := func(kind, metric, window string, limit, minPlays int, vals map[string]float64) {
		t.Helper()
		q := url.Values{"kind": {kind}, "metric": {metric}, "window": {window}, "limit": {fmt.Sprint(limit)}}
		if minPlays >= 0 {
			q.Set("minPlays", fmt.Sprint(minPlays))
		}
		var got topAnswer
		eventually(t, 30*time.Second, func() error {
			r := top(tn.sk, tn.project, q.Encode())
			if r.status != 200 {
				return fmt.Errorf("top %s: %d %s", q.Encode(), r.status, r.body)
			}
			got = topAnswer{}
			if err := json.Unmarshal(r.body, &got); err != nil {
				return err
			}
			if got.AsOf == nil || got.AsOf.Before(posted) {
				return fmt.Errorf("top %s: asOf %v is before the last post %v", q.Encode(), got.AsOf, posted)
			}
			return nil
		})
		if got.AsOf.After(time.Now()) {
			t.Fatalf("asOf %v is in the future", got.AsOf)
		}
		var items []string
		for _, it := range got.Items {
			items = append(items, fmt.Sprintf("%s=%g", it.ID, it.Value))
		}
		if w := ranked(vals, limit); !slices.Equal(items, w) || got.Kind != kind || got.Metric != metric || got.Window != window {
			t.Fatalf("top %s:\n got %s %s %s %v\nwant %v", q.Encode(), got.Kind, got.Metric, got.Window, items, w)
		}
	}
	counter := func(f func(*figures) int) map[string]float64 {
		out := map[string]float64{}
		for id, fg := range want {
			if v := f(fg); v > 0 {
				out[id] = float64(v)
			}
		}
		return out
	}
	rate := func(num func(*figures) int, minPlays int) map[string]float64 {
		out := map[string]float64{}
		for id, fg := range want {
			if fg.plays >= minPlays && fg.plays > 0 {
				out[id] = float64(num(fg)) / float64(fg.plays)
			}
		}
		return out
	}
	plays := counter(func(f *figures) int { return f.plays })
	for _, w := range []string{"1h", "24h", "7d", "30d"} {
		check("content", "plays", w, 100, -1, plays)
	}
	check("content", "likes", "24h", 37, -1, counter(func(f *figures) int { return f.likes }))
	check("content", "completionRate", "1h", 100, 3, rate(func(f *figures) int { return f.completions }, 3))
	check("content", "likesPerPlay", "30d", 100, -1, rate(func(f *figures) int { return f.likes }, 10)) // default minPlays 10: nobody
	check("content", "likesPerPlay", "24h", 50, 1, rate(func(f *figures) int { return f.likes }, 1))
	rv := map[string]float64{}
	for id, n := range renders {
		if n > 0 {
			rv[id] = float64(n)
		}
	}
	check("render", "share_created", "1h", 10, -1, rv)
	check("render", "share_created", "24h", 5, -1, rv)

	// The Go client reads the same answer, field for field.
	sc, _ := newClient(t, s.base, tn.sk)
	l, err := sc.Top(context.Background(), tn.project, client.TopQuery{Kind: "content", Metric: "plays", Window: "7d", Limit: 3})
	if err != nil || len(l.Items) != 3 || l.AsOf == nil || l.Items[0].Value != plays[l.Items[0].ID] {
		t.Fatalf("client Top: %+v %v", l, err)
	}
	sameJSON[client.TopList](t, top(tn.sk, tn.project, "kind=content&metric=plays&limit=3").body)

	// Refusals, in the error envelope.
	q := "kind=content&metric=plays"
	if r := top(tn.pk, tn.project, q); r.status != 403 || r.errorCode(t) != "forbidden" {
		t.Fatalf("publishable key: %d %s", r.status, r.body)
	}
	if r := top(tn.sk, other.project, q); r.status != 404 || r.errorCode(t) != "not_found" {
		t.Fatalf("another project: %d %s", r.status, r.body)
	}
	if r := top(other.key, tn.project, q); r.status != 404 {
		t.Fatalf("another project's key: %d %s", r.status, r.body)
	}
	for _, bad := range []string{
		"", "kind=content", "kind=video&metric=plays", "kind=content&metric=viewed", "kind=content&metric=users",
		"kind=render&metric=viewers", "kind=content&metric=sessions", "kind=content&metric=watchFraction",
		"kind=content&metric=swipeAwayRate", "kind=content&metric=plays&window=2h", "kind=content&metric=plays&limit=0",
		"kind=content&metric=plays&limit=101", "kind=content&metric=plays&limit=x", "kind=content&metric=completionRate&minPlays=-1",
	} {
		if r := top(tn.sk, tn.project, bad); r.status != 400 || r.errorCode(t) != "invalid_request" {
			t.Fatalf("%q: %d %s", bad, r.status, r.body)
		}
	}
}

// TestTopStream: a ranking's stream starts with the list now and sends it
// again when its items change; the same lists arrive on NATS under the
// documented subject; bad queries are refused before the stream starts.
func TestTopStream(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0")
	s := startService(t, e)
	tn := newSDKTenant(t, e)
	nc := s.natsConn(t)
	subject := "engaged.top." + tn.project + ".content.plays.1h.10.0"
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	url := s.base + "/v1/projects/" + tn.project + "/top/stream?kind=content&metric=plays&window=1h"
	c := openStream(t, url, tn.sk)
	c2 := openStream(t, url, tn.sk) // a second subscriber of the same watcher
	read := func(c *sseClient) topAnswer {
		t.Helper()
		var a topAnswer
		if err := json.Unmarshal([]byte(c.next(t).data), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := read(c); a.Kind != "content" || a.Metric != "plays" || a.Window != "1h" || len(a.Items) != 0 {
		t.Fatalf("first list: %+v", a)
	}
	read(c2)
	for i, id := range []string{"cnt_def456", "cnt_def456", "cnt_abc123"} {
		s.batch(t, tn.pk, fmt.Sprintf(`{"events":[{"eventId":"s%d","event":"playStart","contentId":"%s","data":{"startupTime":90}}]}`, i, id))
	}
	want := `[{cnt_def456 2} {cnt_abc123 1}]`
	for _, c := range []*sseClient{c, c2} {
		for {
			a := read(c)
			if fmt.Sprint(a.Items) == want {
				break
			}
			if len(a.Items) > 2 {
				t.Fatalf("list: %+v", a)
			}
		}
	}
	for {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("no ranking on %s: %v", subject, err)
		}
		var a topAnswer
		if err := json.Unmarshal(m.Data, &a); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(a.Items) == want {
			break
		}
	}
	if r := do(t, "GET", s.base+"/v1/projects/"+tn.project+"/top/stream?kind=content&metric=users", tn.sk, ""); r.status != 400 {
		t.Fatalf("distinct metric: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", s.base+"/v1/projects/"+tn.project+"/top/stream?kind=content&metric=plays", tn.pk, ""); r.status != 403 {
		t.Fatalf("publishable key: %d %s", r.status, r.body)
	}
}
