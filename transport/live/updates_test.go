package live

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/jetlog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startNATS runs a real embedded NATS server in a temp dir and connects to
// it over TCP.
func startNATS(t *testing.T) *nats.Conn {
	t.Helper()
	_, nc := startServer(t)
	return nc
}

func startServer(t *testing.T) (*server.Server, *nats.Conn) {
	t.Helper()
	ns, err := jetlog.StartEmbedded(jetlog.EmbeddedOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", SyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := jetlog.Connect(jetlog.ConnectOptions{URL: ns.ClientURL(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return ns, nc
}

// Updates go out on engaged.updates.<project>.<item> with the sequence in a
// header, to plain NATS subscribers and to the SSE subscription path alike,
// in publish order.
func TestUpdatesSubjectsAndOrder(t *testing.T) {
	nc := startNATS(t)
	u := NewUpdates(nc, nil, nil)
	k := actors.ItemID{Project: "p-1", Item: "item_1"}
	other := actors.ItemID{Project: "p-1", Item: "item_2"}

	plain, err := nc.SubscribeSync("engaged.updates.p-1.>")
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		seq     uint64
		payload string
	}
	ch := make(chan got, 16)
	// Subscribe flushes: the plain subscription above is in place too.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stop, err := u.Subscribe(ctx, k, func(seq uint64, p []byte) { ch <- got{seq, string(p)} })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	u.Publish(k, actors.Update{Seq: 7, Payload: []byte(`{"seq":7}`)})
	u.Publish(other, actors.Update{Seq: 8, Payload: []byte(`{"seq":8}`)})
	u.Publish(k, actors.Update{Seq: 9, Payload: []byte(`{"seq":9}`)})

	for _, want := range []struct {
		subject, seq, payload string
	}{
		{"engaged.updates.p-1.item_1", "7", `{"seq":7}`},
		{"engaged.updates.p-1.item_2", "8", `{"seq":8}`},
		{"engaged.updates.p-1.item_1", "9", `{"seq":9}`},
	} {
		m, err := plain.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != want.subject || m.Header.Get(SeqHeader) != want.seq || string(m.Data) != want.payload {
			t.Fatalf("got %s %s %s, want %+v", m.Subject, m.Header.Get(SeqHeader), m.Data, want)
		}
	}
	// The item's own subscription sees only its updates, in order.
	for _, want := range []got{{7, `{"seq":7}`}, {9, `{"seq":9}`}} {
		select {
		case g := <-ch:
			if g != want {
				t.Fatalf("subscription got %+v, want %+v", g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("subscription got nothing")
		}
	}
	if u.Failures() != 0 {
		t.Fatalf("%d failures", u.Failures())
	}
}

// A publish on a closed connection is counted and never blocks the caller
// (an actor).
func TestUpdatesPublishAfterClose(t *testing.T) {
	nc := startNATS(t)
	u := NewUpdates(nc, nil, nil)
	nc.Close()
	u.Publish(actors.ItemID{Project: "p", Item: "i"}, actors.Update{Seq: 1, Payload: []byte(`{}`)})
	if u.Failures() != 1 {
		t.Fatalf("failures = %d, want 1", u.Failures())
	}
}

// With the server's interest, an update is wanted exactly while somebody
// subscribes to its subject: a plain NATS client on a wildcard, or an SSE
// stream through Subscribe; and no longer once they unsubscribe.
func TestUpdatesWantedFollowsInterest(t *testing.T) {
	ns, nc := startServer(t)
	u := NewUpdates(nc, nil, ns.GlobalAccount().SubscriptionInterest)
	k := actors.ItemID{Project: "p-1", Item: "item_1"}
	other := actors.ItemID{Project: "p-2", Item: "item_1"}
	if u.Wanted(k) || u.Wanted(other) {
		t.Fatal("wanted with no subscriber")
	}
	if !NewUpdates(nc, nil, nil).Wanted(k) {
		t.Fatal("without an interest function every update must be wanted")
	}

	// A plain client on its own connection, on a wildcard.
	plain := startClient(t, ns)
	sub, err := plain.SubscribeSync("engaged.updates.p-1.*")
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Flush(); err != nil {
		t.Fatal(err)
	}
	if !u.Wanted(k) || u.Wanted(other) {
		t.Fatalf("wildcard subscriber: wanted(k)=%v wanted(other)=%v, want true, false", u.Wanted(k), u.Wanted(other))
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := plain.Flush(); err != nil {
		t.Fatal(err)
	}
	if u.Wanted(k) {
		t.Fatal("still wanted after the only subscriber left")
	}

	// An SSE stream's subscription.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stop, err := u.Subscribe(ctx, other, func(uint64, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	if !u.Wanted(other) || u.Wanted(k) {
		t.Fatal("Subscribe did not make exactly its item wanted")
	}
	stop()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if u.Wanted(other) {
		t.Fatal("still wanted after stop")
	}
}

func startClient(t *testing.T, ns *server.Server) *nats.Conn {
	t.Helper()
	nc, err := jetlog.Connect(jetlog.ConnectOptions{URL: ns.ClientURL(), Name: "test-client"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
