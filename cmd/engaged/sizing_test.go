package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
)

// The bytes docs/SCALING.md sizes retention and Postgres with: what one
// event costs in the log and what one item's snapshot costs in Postgres,
// for partner events (one per request and message) and SDK batches (ten
// events per item and message). It fails if they outgrow the budgets that
// SCALING.md's arithmetic assumes;
//
//	go test -race -count=1 -run TestStorageSizes -v ./cmd/engaged
//
// prints the figures.
func TestStorageSizes(t *testing.T) {
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	nc := s.natsConn(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	logState := func() (msgs, bytes uint64) {
		st, err := js.Stream(ctx, "ENGAGED")
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs, info.State.Bytes
	}
	db, err := pgxpool.New(ctx, e["ENGAGED_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// snapshotBytes waits until the items' snapshots stop changing (two
	// equal reads a few snapshot intervals apart) and returns the mean
	// encoded state and the mean stored (possibly compressed) size.
	snapshotBytes := func(ids []string) (state, stored float64) {
		t.Helper()
		var last string
		eventually(t, 20*time.Second, func() error {
			var n int
			var seqs, raw, col float64
			if err := db.QueryRow(ctx, `SELECT count(*), coalesce(sum(seq),0), coalesce(avg(octet_length(state)),0), coalesce(avg(pg_column_size(state)),0)
				FROM snapshots WHERE item_id = ANY($1)`, ids).Scan(&n, &seqs, &raw, &col); err != nil {
				return err
			}
			now := fmt.Sprint(n, seqs, raw)
			if n != len(ids) || now != last {
				last = now
				time.Sleep(300 * time.Millisecond) // a few snapshot intervals (100ms in newEnv)
				return fmt.Errorf("%d of %d snapshots, still changing", n, len(ids))
			}
			state, stored = raw, col
			return nil
		})
		return state, stored
	}

	tn := newTenant(t, e)
	// ~200 B of metadata, different in every event (random hex), so that
	// Postgres's compression of large values is not flattered by repetition.
	withMeta := func() string {
		b := make([]byte, 75)
		rand.Read(b)
		return `{"eventType":"viewed","metadata":{"source":"sizing","campaign":"scaling","note":"` + hex.EncodeToString(b) + `"}}`
	}
	bare := func() string { return `{"eventType":"viewed"}` }
	const ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	type row struct {
		name                    string
		events, items           int
		logPerEvent             float64
		snapState, snapStored   float64
		logBudget, snapshotBudg float64
	}
	var rows []row

	// Partner events: each request is one log message with one event.
	partner := func(name string, renders, perRender int, body func() string, budgetLog, budgetSnap float64) {
		ids := make([]string, renders)
		for i := range ids {
			ids[i] = adminJSON(t, e, "render", "create", "--project", tn.project)["id"].(string)
		}
		m0, b0 := logState()
		for i := 0; i < perRender; i++ {
			for j, id := range ids {
				r := do(t, "POST", s.base+"/v1/renders/"+id+"/events", tn.key, body(),
					"X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", j, i/250, i%250), "User-Agent", ua)
				if !recorded(t, r) {
					t.Fatalf("%s: event %d not recorded", name, i)
				}
			}
		}
		m1, b1 := logState()
		if int(m1-m0) != renders*perRender {
			t.Fatalf("%s: log grew by %d messages, want %d", name, m1-m0, renders*perRender)
		}
		st, stored := snapshotBytes(ids)
		rows = append(rows, row{name, renders * perRender, renders, float64(b1-b0) / float64(renders*perRender), st, stored, budgetLog, budgetSnap})
	}
	partner("render, 1 bare event", 20, 1, bare, 512, 2<<10)
	partner("render, 25 events, 200 B metadata + UA", 4, 25, withMeta, 1<<10, 24<<10)
	partner("render, 200 events, 200 B metadata + UA", 2, 200, withMeta, 1<<10, 48<<10)

	// SDK batches: 100 events over 10 content items, one message per item.
	sdk := newSDKTenant(t, e)
	contents := make([]string, 10)
	for i := range contents {
		contents[i] = fmt.Sprintf("cnt_size_%d", i)
		adminJSON(t, e, "content", "create", "--project", sdk.project, "--id", contents[i])
	}
	// Half watchProgress, half likes; once without userId, once with one
	// viewer's userId per batch: the second adds one user message per batch
	// holding the 50 likes (docs/USERS.md).
	const batches = 10
	for _, withUser := range []bool{false, true} {
		m0, b0 := logState()
		for b := 0; b < batches; b++ {
			var sb strings.Builder
			sb.WriteString(`{"events":[`)
			now := time.Now().UTC().Format(time.RFC3339Nano)
			for i := 0; i < 100; i++ {
				if i > 0 {
					sb.WriteByte(',')
				}
				user := ""
				if withUser {
					user = fmt.Sprintf(`"userId":"user_%d",`, b)
				}
				ev := `"event":"watchProgress","data":{"currentTime":12.5,"duration":45.2,"percentComplete":27.6}`
				if i%2 == 1 { // an interaction: it feeds the user's state
					ev = `"event":"like","data":{}`
				}
				fmt.Fprintf(&sb, `{"eventId":"evt_%t_%d_%d","contentId":"%s",%s"sessionId":"sess_size","timestamp":"%s",%s}`,
					withUser, b, i, contents[i/10], user, now, ev)
			}
			sb.WriteString(`]}`)
			if r := s.batch(t, sdk.pk, sb.String()); r.Data.Received != 100 {
				t.Fatalf("batch %d: %d of 100 received", b, r.Data.Received)
			}
		}
		m1, b1 := logState()
		st, stored := snapshotBytes(contents)
		name, budget := "content, SDK batches, no userId", 300.0
		if withUser {
			name, budget = "content, SDK batches, one userId each", 200
		}
		rows = append(rows, row{fmt.Sprintf("%s (%d msgs)", name, m1-m0), batches * 100, len(contents),
			float64(b1-b0) / float64(batches*100), st, stored, budget, 16 << 10})
	}

	t.Logf("%-52s %7s %6s %14s %16s %17s", "case", "events", "items", "log B/event", "snapshot B/item", "stored B/item")
	for _, r := range rows {
		t.Logf("%-52s %7d %6d %14.0f %16.0f %17.0f", r.name, r.events, r.items, r.logPerEvent, r.snapState, r.snapStored)
		if r.logPerEvent > r.logBudget {
			t.Errorf("%s: %.0f log bytes per event, budget %.0f", r.name, r.logPerEvent, r.logBudget)
		}
		if r.snapState > r.snapshotBudg {
			t.Errorf("%s: %.0f snapshot bytes per item, budget %.0f", r.name, r.snapState, r.snapshotBudg)
		}
	}
}
