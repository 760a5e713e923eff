package live

import (
	"context"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// A subscriber callback that panics loses that update only: the process
// and the subscription go on, and the panic is counted.
func TestSubscriberPanicContained(t *testing.T) {
	nc := startNATS(t)
	u := NewUpdates(nc, nil, nil)
	k := actors.ItemID{Project: "p", Item: "i"}
	got := make(chan uint64, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stop, err := u.Subscribe(ctx, k, func(seq uint64, _ []byte) {
		if seq == 1 {
			panic("test: subscriber")
		}
		got <- seq
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	u.Publish(k, actors.Update{Seq: 1, Payload: []byte(`{}`)})
	u.Publish(k, actors.Update{Seq: 2, Payload: []byte(`{}`)})
	select {
	case seq := <-got:
		if seq != 2 {
			t.Fatalf("got update %d, want 2", seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription did not go on after the panic")
	}
	if u.Panics() != 1 {
		t.Fatalf("Panics() = %d, want 1", u.Panics())
	}
}
