package jetlog

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/engagedhq/engaged/actors"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startLog runs a real embedded JetStream server in a temp dir.
func startLog(t testing.TB, parts int) (*Log, *nats.Conn) {
	t.Helper()
	ns, err := StartEmbedded(EmbeddedOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", SyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := Connect(ConnectOptions{URL: ns.ClientURL(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l, err := OpenLog(context.Background(), nc, LogOptions{Partitions: parts, MaxAge: time.Hour, MaxBytes: -1, Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	return l, nc
}

func msg(ids ...string) []byte {
	m := actors.Message{}
	for _, id := range ids {
		m.Render = append(m.Render, actors.RenderEvent{ID: id, EventType: actors.Viewed})
	}
	b, _ := m.Encode()
	return b
}

// publish stores payload and waits for the log's answer.
func publish(t *testing.T, l *Log, k actors.ItemID, msgID string, payload []byte) (seq uint64, dup bool) {
	t.Helper()
	wait, err := l.Publish(k, msgID, payload)
	if err != nil {
		t.Fatal(err)
	}
	seq, dup, err = wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq, dup
}

func TestPublishReplay(t *testing.T) {
	ctx := context.Background()
	l, _ := startLog(t, 4)
	a := actors.ItemID{Project: "p1", Item: "a"}
	b := actors.ItemID{Project: "p1", Item: "b"}
	var seqs []uint64
	for i := 0; i < 300; i++ {
		k := a
		if i%3 == 0 {
			k = b
		}
		seq, _ := publish(t, l, k, fmt.Sprintf("id-%d", i), msg(fmt.Sprintf("e%d", i)))
		if k == a {
			seqs = append(seqs, seq)
		}
	}
	// A retried publish (same Nats-Msg-Id) is stored once.
	again, dup := publish(t, l, a, "id-1", msg("e1"))
	if again != seqs[0] || !dup {
		t.Fatalf("duplicate publish: seq %d dup %v (first seq %d)", again, dup, seqs[0])
	}
	// (after, through] ranges, through 0 being the end: short tails (direct
	// gets only), long ones (an ordered consumer after the first
	// directReplay), none.
	last := seqs[len(seqs)-1]
	ranges := [][2]uint64{{0, 0}, {seqs[10], 0}, {seqs[len(seqs)-5], 0}, {last, 0}, {0, seqs[5]}, {seqs[3], seqs[150]}, {seqs[5], seqs[5] + 1}, {0, last}}
	for _, rg := range ranges {
		after, through := rg[0], rg[1]
		var got []uint64
		err := l.Replay(ctx, a, after, through, func(seq uint64, m *actors.Message) {
			if len(m.Render) != 1 {
				t.Fatalf("message %d: %+v", seq, m)
			}
			got = append(got, seq)
		})
		if err != nil {
			t.Fatal(err)
		}
		var want []uint64
		for _, s := range seqs {
			if s > after && (through == 0 || s <= through) {
				want = append(want, s)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("replay (%d, %d]: got %d messages, want %d", after, through, len(got), len(want))
		}
	}
	// A sequence the log has not stored is never taken for the end: Replay
	// waits for it until its context ends.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := l.Replay(short, a, last, last+1000, func(uint64, *actors.Message) {}); err == nil {
		t.Fatal("replay ended before a sequence it was told the log holds")
	}
	if err := l.Replay(ctx, actors.ItemID{Project: "p1", Item: "none"}, 0, 0, func(uint64, *actors.Message) { t.Fatal("called") }); err != nil {
		t.Fatal(err)
	}
}

// A retried request publishes the same message id again (the SDK API's
// contentMsgID), and JetStream then reports the duplicate, which the SDK
// handler answers without waiting for verdicts that will never come.
func TestPublishAckReportsDuplicate(t *testing.T) {
	ctx := context.Background()
	l, _ := startLog(t, 4)
	k := actors.ItemID{Project: "p1", Item: "cnt_a"}
	evs := []actors.ContentEvent{{ID: "e1", Type: actors.Like}, {ID: "e2", Type: actors.Save}}
	publish := func(ref string) (seq uint64, dup bool) {
		t.Helper()
		p, _ := (&actors.Message{Content: evs, Ref: ref}).Encode()
		return publish(t, l, k, "sdk-1", p)
	}
	s1, d1 := publish("r1")
	s2, d2 := publish("r2") // another try, another ref: same message id
	if d1 || !d2 || s1 != s2 {
		t.Fatalf("first seq %d dup %v, retry seq %d dup %v", s1, d1, s2, d2)
	}
	var refs []string
	if err := l.Replay(ctx, k, 0, 0, func(_ uint64, m *actors.Message) { refs = append(refs, m.Ref) }); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0] != "r1" {
		t.Fatalf("stored %v, want the first try only", refs)
	}
}

func TestPartitionCountIsFixed(t *testing.T) {
	l, nc := startLog(t, 4)
	_ = l
	_, err := OpenLog(context.Background(), nc, LogOptions{Partitions: 8, MaxAge: time.Hour, MaxBytes: -1, Replicas: 1})
	if err == nil {
		t.Fatal("reopening with another partition count must fail")
	}
}

func TestSubjects(t *testing.T) {
	l := &Log{parts: 32}
	k := actors.ItemID{Project: "0193c2c3-aaaa", Item: "cnt_abc-1"}
	part, got, ok := parseSubject(l.Subject(k))
	if !ok || got != k || part != k.Partition(32) {
		t.Fatalf("round trip: %v %v %v", part, got, ok)
	}
	for _, s := range []string{"engaged.events.1.a", "engaged.events.x.a.b", "other.1.a.b", "engaged.events.1.a.b.c"} {
		if _, _, ok := parseSubject(s); ok {
			t.Errorf("parseSubject(%q) ok", s)
		}
	}
}

// A publish that finds no stream leader (here: no stream at all for a
// while, as during an election) is sent again until one stores it, instead
// of failing the request at the first silence or error.
func TestPublishResendsUntilStored(t *testing.T) {
	ctx := context.Background()
	l, nc := startLog(t, 4)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := l.stream.CachedInfo().Config
	if err := js.DeleteStream(ctx, StreamName); err != nil {
		t.Fatal(err)
	}
	k := actors.ItemID{Project: "p1", Item: "a"}
	wait, err := l.Publish(k, "id-1", msg("e1"))
	if err != nil {
		t.Fatal(err)
	}
	back := make(chan error, 1)
	go func() {
		time.Sleep(3 * republishAfter)
		_, err := js.CreateStream(ctx, cfg)
		back <- err
	}()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	seq, dup, err := wait(wctx)
	if berr := <-back; berr != nil {
		t.Fatal(berr)
	}
	if err != nil || dup || seq != 1 {
		t.Fatalf("publish across the outage: seq %d dup %v err %v", seq, dup, err)
	}
}

// A resent publish whose first send was stored (its ack lost) gets a
// duplicate ack; it is its own message, so not a duplicate. Another
// message with the same id is.
func TestOwnDuplicate(t *testing.T) {
	ctx := context.Background()
	l, _ := startLog(t, 4)
	k := actors.ItemID{Project: "p1", Item: "a"}
	mine := msg("e1")
	seq, _ := publish(t, l, k, "id-1", mine)
	if s, dup, err := l.ownDuplicate(ctx, seq, mine); err != nil || dup || s != seq {
		t.Fatalf("own message: seq %d dup %v err %v", s, dup, err)
	}
	if _, dup, err := l.ownDuplicate(ctx, seq, msg("e2")); err != nil || !dup {
		t.Fatalf("another message with the id: dup %v err %v", dup, err)
	}
}

// Start-up asks JetStream again while it has no answer (a cluster electing
// its meta leader), and stops at once at a refusal.
func TestUntilAnswered(t *testing.T) {
	calls := 0
	err := untilAnswered(context.Background(), func(context.Context) error {
		if calls++; calls < 3 {
			return context.DeadlineExceeded
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("after two silences: err %v, %d calls", err, calls)
	}
	calls = 0
	err = untilAnswered(context.Background(), func(context.Context) error {
		calls++
		return jetstream.ErrStreamNotFound
	})
	if !errors.Is(err, jetstream.ErrStreamNotFound) || calls != 1 {
		t.Fatalf("a refusal: err %v, %d calls", err, calls)
	}
}

// A direct get that no replica answers (one did not, while a restarted
// cluster node caught up) is given up after directGetWait and the replay
// goes on, instead of holding its actor for the whole of its context. Here
// the server stops serving direct gets and a silent subscriber takes the
// first request; the replay then finishes through a consumer.
func TestReplayGivesUpAnUnansweredGet(t *testing.T) {
	ctx := context.Background()
	l, nc := startLog(t, 4)
	k := actors.ItemID{Project: "p1", Item: "a"}
	seq, _ := publish(t, l, k, "id-1", msg("e1"))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := l.stream.CachedInfo().Config // l keeps asking with direct gets
	cfg.AllowDirect = false
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	silent, err := nc.Subscribe("$JS.API.DIRECT.GET."+StreamName, func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := silent.AutoUnsubscribe(1); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n := 0
	if err := l.Replay(rctx, k, 0, seq, func(uint64, *actors.Message) { n++ }); err != nil || n != 1 {
		t.Fatalf("replay: %d messages, err %v", n, err)
	}
}

// A full log's refusal is final (sending again holds the request for its
// whole deadline); JetStream being unavailable for now, or no answer at all,
// is worth a resend.
func TestRefused(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&jetstream.APIError{Code: 503, ErrorCode: errStoreFailed, Description: "maximum bytes exceeded"}, true},
		{fmt.Errorf("publish: %w", &jetstream.APIError{Code: 503, ErrorCode: errStoreFailed}), true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10060, Description: "expected stream does not match"}, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, false},
		{nats.ErrTimeout, false},
		{nats.ErrNoResponders, false},
	} {
		if got := refused(c.err); got != c.want {
			t.Errorf("refused(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// A long replay whose server goes away half-way ends with its context. With
// jetstream's ordered consumer it did not: each fetch re-made the consumer
// in a retry loop blind to the context, and the actor waiting on the replay
// (and every read of its item) stayed stuck.
func TestReplayEndsWithItsContextWhenTheServerGoes(t *testing.T) {
	ns, err := StartEmbedded(EmbeddedOptions{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", SyncInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := Connect(ConnectOptions{URL: ns.ClientURL(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l, err := OpenLog(context.Background(), nc, LogOptions{Partitions: 1, MaxAge: time.Hour, MaxBytes: -1, Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	k := actors.ItemID{Project: "p1", Item: "a"}
	var last uint64
	for i := range 600 {
		last, _ = publish(t, l, k, fmt.Sprintf("id-%d", i), msg(fmt.Sprintf("e%d", i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		n := 0
		done <- l.Replay(ctx, k, 0, last, func(uint64, *actors.Message) {
			// Past the direct gets and the consumer's first batch: the
			// next fetch is the one that must not outlive ctx.
			if n++; n == directReplay+300 {
				ns.Shutdown()
			}
		})
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("replay reported the whole range although the server went away")
		}
	case <-time.After(time.Minute): // a hang detector, not a speed bound
		t.Fatal("replay outlived its context by a minute")
	}
}
