package persist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/persist/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func open(t *testing.T) (*Store, string) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, url
}

func TestMigrationsApplyOnce(t *testing.T) {
	s, url := open(t)
	s2, err := Open(context.Background(), url) // second start: nothing to apply
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("schema_migrations: %d, %v", n, err)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	p, _ := s.CreateProject(ctx, "a")
	k, secret, err := s.CreateKey(ctx, p.ID, actors.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	pk, psecret, _ := s.CreateKey(ctx, p.ID, actors.PublishableKey)
	got, err := s.Authenticate(ctx, secret)
	if err != nil || got.KeyID != k.ID || got.ProjectID != p.ID || got.Kind != actors.SecretKey {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	if got, _ := s.Authenticate(ctx, psecret); got.Kind != actors.PublishableKey || got.KeyID != pk.ID {
		t.Fatalf("publishable: %+v", got)
	}
	var stored int
	s.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE prefix = $1 AND position($2 in prefix) = 0`, k.Prefix, secret[12:]).Scan(&stored)
	if stored != 1 {
		t.Fatal("the key's secret part must not be stored")
	}

	if _, err := s.Authenticate(ctx, secret[:len(secret)-1]+"b"); actors.ErrorCode(err) != actors.EUnauthorized {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := s.Authenticate(ctx, "sk_short"); actors.ErrorCode(err) != actors.EUnauthorized {
		t.Fatalf("malformed key: %v", err)
	}
	if err := s.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret); actors.ErrorCode(err) != actors.EUnauthorized {
		t.Fatalf("revoked key: %v", err)
	}
	if err := s.DeleteProject(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, psecret); actors.ErrorCode(err) != actors.EForbidden {
		t.Fatalf("deleted project: %v", err)
	}
	if _, _, err := s.CreateKey(ctx, p.ID, actors.SecretKey); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("key for deleted project: %v", err)
	}
	if err := s.DeleteProject(ctx, p.ID); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestItems(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	a, _ := s.CreateProject(ctx, "a")
	b, _ := s.CreateProject(ctx, "b")
	r, err := s.CreateRender(ctx, a.ID, "https://example.com/doc.pdf")
	if err != nil || len(r.ID) != 36 || r.ID[14] != '7' {
		t.Fatalf("render %+v, %v (want a UUIDv7)", r, err)
	}
	if _, err := s.GetItem(ctx, b.ID, r.ID, actors.RenderItem); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("other project's render: %v", err)
	}
	got, err := s.GetItem(ctx, a.ID, r.ID, actors.RenderItem)
	if err != nil || *got.DocumentURL != "https://example.com/doc.pdf" {
		t.Fatalf("GetItem = %+v, %v", got, err)
	}
	list, next, err := s.ListItems(ctx, a.ID, actors.RenderItem, actors.Page{})
	if err != nil || len(list) != 1 || list[0].ID != r.ID || next != "" {
		t.Fatalf("list %+v %q %v", list, next, err)
	}
	if _, err := s.CreateRender(ctx, "not-a-uuid", ""); actors.ErrorCode(err) != actors.ENotFound {
		t.Fatalf("bad project: %v", err)
	}
}

// A write under an older epoch changes nothing; an older sequence never
// replaces a newer snapshot.
func TestSnapshotFencing(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	k := actors.ItemID{Project: "01939c2c-0000-7000-8000-000000000001", Item: "r1"}
	old, err := s.ClaimPartition(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSnapshots(ctx, 3, old, []actors.Snapshot{{Key: k, Seq: 5, State: []byte(`{"v":5}`)}}); err != nil {
		t.Fatal(err)
	}
	newer, _ := s.ClaimPartition(ctx, 3)
	if newer != old+1 {
		t.Fatalf("epoch %d after %d", newer, old)
	}
	err = s.SaveSnapshots(ctx, 3, old, []actors.Snapshot{{Key: k, Seq: 9, State: []byte(`{"v":9}`)}})
	if !errors.Is(err, actors.ErrFenced) {
		t.Fatalf("stale epoch write: %v", err)
	}
	if err := s.SaveSnapshots(ctx, 3, newer, []actors.Snapshot{{Key: k, Seq: 4, State: []byte(`{"v":4}`)}}); err != nil {
		t.Fatal(err)
	}
	other := actors.ItemID{Project: k.Project, Item: "r2"}
	if err := s.SaveSnapshots(ctx, 3, newer, []actors.Snapshot{{Key: other, Seq: 7, State: []byte(`{"v":7}`)}}); err != nil {
		t.Fatal(err)
	}
	none := actors.ItemID{Project: k.Project, Item: "none"}
	snaps, err := s.LoadSnapshots(ctx, []actors.ItemID{k, none, other})
	if err != nil {
		t.Fatal(err)
	}
	if snap := snaps[k]; snap.Seq != 5 || string(snap.State) != `{"v":5}` {
		t.Fatalf("snapshot = %+v %s", snap, snap.State)
	}
	if snap := snaps[other]; snap.Seq != 7 || string(snap.State) != `{"v":7}` {
		t.Fatalf("other snapshot = %+v %s", snap, snap.State)
	}
	if _, found := snaps[none]; found || len(snaps) != 2 {
		t.Fatalf("%d snapshots, one of an item never written: %v", len(snaps), found)
	}
}

// SnapshotKeys answers the items a partition's snapshots were written for,
// and rows written before the store recorded partitions for every partition.
func TestSnapshotKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	pr := "01939c2c-0000-7000-8000-000000000002"
	save := func(part int, item string) {
		t.Helper()
		epoch, err := s.ClaimPartition(ctx, part)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SaveSnapshots(ctx, part, epoch, []actors.Snapshot{{Key: actors.ItemID{Project: pr, Item: item}, Seq: 1, State: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	save(1, "a")
	save(1, "b")
	save(2, "c")
	if _, err := s.pool.Exec(ctx, `INSERT INTO snapshots (project_id, item_id, seq, state) VALUES ($1, 'old', 1, '{}')`, pr); err != nil {
		t.Fatal(err)
	}
	for part, want := range map[int][]string{1: {"a", "b", "old"}, 2: {"c", "old"}, 3: {"old"}} {
		keys, err := s.SnapshotKeys(ctx, part)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range keys {
			if k.Project != pr {
				t.Fatalf("project %q, want %q", k.Project, pr)
			}
			got = append(got, k.Item)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("partition %d: keys %v, want %v", part, got, want)
		}
	}
}

// A connection cut under a query (Postgres stopped) is an outage: 503, not
// the 500 that TestCluster once got from an SDK batch.
func TestTranslateLostConnection(t *testing.T) {
	cut := fmt.Errorf("query: %w", &net.OpError{Op: "read", Net: "unix", Err: syscall.ECONNRESET})
	for _, err := range []error{cut, io.ErrUnexpectedEOF, &pgconn.PgError{Code: "57P01"}, &pgconn.PgError{Code: "08006"}} {
		if got := actors.ErrorCode(translate(err)); got != actors.EUnavailable {
			t.Errorf("translate(%v) = %s, want unavailable", err, got)
		}
	}
}

// Concurrent lookups each get their own answer: an item, another kind's item, another project's item, an id that
// names nothing, a project id that is no UUID.
func TestGetItemConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	a, _ := s.CreateProject(ctx, "a")
	b, _ := s.CreateProject(ctx, "b")
	ids, err := s.CreateRenders(ctx, a.ID, 200)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateContent(ctx, a.ID, "cnt_1"); err != nil {
		t.Fatal(err)
	}
	type ask struct {
		project, id, kind string
		found             bool
	}
	var asks []ask
	for _, id := range ids {
		asks = append(asks, ask{a.ID, id, actors.RenderItem, true}, ask{b.ID, id, actors.RenderItem, false}, ask{a.ID, id, actors.ContentItem, false})
	}
	asks = append(asks, ask{a.ID, "cnt_1", actors.ContentItem, true}, ask{strings.ToUpper(a.ID), "cnt_1", actors.ContentItem, true},
		ask{a.ID, "cnt_2", actors.ContentItem, false}, ask{"not-a-uuid", "cnt_1", actors.ContentItem, false})
	var wg sync.WaitGroup
	for _, q := range asks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it, err := s.GetItem(ctx, q.project, q.id, q.kind)
			switch {
			case q.found && (err != nil || it.ID != q.id || it.Kind != q.kind || it.ProjectID != strings.ToLower(q.project)):
				t.Errorf("%+v: %+v, %v", q, it, err)
			case !q.found && actors.ErrorCode(err) != actors.ENotFound:
				t.Errorf("%+v: want not found, got %+v, %v", q, it, err)
			}
		}()
	}
	wg.Wait()
}
