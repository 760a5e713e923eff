package live

import (
	"context"
	"testing"
	"time"
)

// A published key change reaches the subscriber, in order, and a message
// that is not a KeyChange is ignored.
func TestKeyChangesReachSubscribers(t *testing.T) {
	nc := startNATS(t)
	got := make(chan KeyChange, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stop, err := SubscribeKeyChanges(ctx, nc, nil, func(c KeyChange) { got <- c })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := nc.Publish(KeySubject, []byte(`{"nope":1}`)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []KeyChange{{KeyID: "k1"}, {ProjectID: "p1"}} {
		if err := PublishKeyChange(ctx, nc, c); err != nil {
			t.Fatal(err)
		}
		select {
		case g := <-got:
			if g != c {
				t.Fatalf("got %+v, want %+v", g, c)
			}
		case <-ctx.Done():
			t.Fatalf("%+v never arrived", c)
		}
	}
	select {
	case g := <-got:
		t.Fatalf("unexpected %+v", g)
	default:
	}
}
