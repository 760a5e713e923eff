package jetlog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// OlderThan stops at the first young message and reports each item's
// newest old one; Purge removes an item's messages through a sequence and
// no others; Find sees only its project; SecureDelete leaves no byte of
// the message in the store files, and deleting twice is no error.
func TestRetentionAndErasurePrimitives(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ns, err := StartEmbedded(EmbeddedOptions{StoreDir: dir, Listen: "127.0.0.1:0", SyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, err := Connect(ConnectOptions{URL: ns.ClientURL(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	l, err := OpenLog(ctx, nc, LogOptions{Partitions: 2, MaxAge: time.Hour, MaxBytes: -1, Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	a := actors.ItemID{Project: "p1", Item: "a"}
	b := actors.ItemID{Project: "p1", Item: "b"}
	c := actors.ItemID{Project: "p2", Item: "c"}
	var seqs []uint64
	for i, k := range []actors.ItemID{a, b, a, c, b} {
		seq, _ := publish(t, l, k, fmt.Sprint("m", i), msg(fmt.Sprintf("secret-%d-%s", i, k.Item)))
		seqs = append(seqs, seq)
	}
	cut := time.Now()
	time.Sleep(10 * time.Millisecond) // the log's timestamps are the server's clock: the young one is stored after cut
	young, _ := publish(t, l, a, "m5", msg("secret-5-a"))

	old, err := l.OlderThan(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != 3 || old[a] != seqs[2] || old[b] != seqs[4] || old[c] != seqs[3] {
		t.Fatalf("OlderThan = %v, want a:%d b:%d c:%d", old, seqs[2], seqs[4], seqs[3])
	}
	if err := l.Purge(ctx, a, old[a]); err != nil {
		t.Fatal(err)
	}
	var left []uint64
	if err := l.Replay(ctx, a, 0, 0, func(seq uint64, _ *actors.Message) { left = append(left, seq) }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(left) != fmt.Sprint([]uint64{young}) {
		t.Fatalf("a after the purge: %v, want [%d]", left, young)
	}
	var bs []uint64
	l.Replay(ctx, b, 0, 0, func(seq uint64, _ *actors.Message) { bs = append(bs, seq) })
	if len(bs) != 2 {
		t.Fatalf("the purge of a took b's messages: %v", bs)
	}

	last, err := l.LastSeq(ctx)
	if err != nil || last != young {
		t.Fatalf("LastSeq = %d %v, want %d", last, err, young)
	}
	var found []string
	err = l.Find(ctx, "p1", last, func(d []byte) bool {
		return bytes.Contains(d, []byte("secret-4-b")) || bytes.Contains(d, []byte("secret-3-c"))
	},
		func(k actors.ItemID, seq uint64) { found = append(found, fmt.Sprint(k.Item, seq)) })
	if err != nil || fmt.Sprint(found) != fmt.Sprint([]string{fmt.Sprint("b", seqs[4])}) {
		t.Fatalf("Find = %v %v", found, err)
	}
	if hits := grepDir(t, dir, "secret-4-b"); hits == 0 {
		t.Fatal("the message is in no store file before the delete: the check would prove nothing")
	}
	for range 2 {
		if err := l.SecureDelete(ctx, seqs[4]); err != nil {
			t.Fatal(err)
		}
	}
	if hits := grepDir(t, dir, "secret-4-b"); hits != 0 {
		t.Fatalf("%d store files still hold the deleted message", hits)
	}
}

func grepDir(t *testing.T, dir, needle string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(needle)) {
			n++
		}
		return nil
	})
	return n
}
