package jetlog

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// panicky delivers like a Registry but panics on the first message.
type panicky struct {
	mu        sync.Mutex
	delivered []uint64
	lost      []actors.ItemID
}

func (p *panicky) Deliver(_ context.Context, k actors.ItemID, d actors.Delivery, _ *actors.Message, ack func()) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d.Seq == 1 {
		panic("test: deliver")
	}
	p.delivered = append(p.delivered, d.Seq)
	ack()
	return nil
}

func (p *panicky) Lost(k actors.ItemID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lost = append(p.lost, k)
}

// A panic in a partition consumer's handler is contained to its message:
// the consumer delivers the next one, the Deliverer hears that the message
// was lost (so its actors catch up from the log), and the panic is counted.
func TestConsumerPanicContained(t *testing.T) {
	l, _ := startLog(t, 1)
	k := actors.ItemID{Project: "p", Item: "i"}
	publish(t, l, k, "m1", msg("e1"))
	publish(t, l, k, "m2", msg("e2"))
	d := &panicky{}
	c, err := StartConsumers(context.Background(), l, d, ConsumerOptions{AckWait: 30 * time.Second, MaxAckPending: 100, PinnedTTL: 3 * time.Second, PullExpiry: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		d.mu.Lock()
		n := len(d.delivered)
		d.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the consumer did not go on after the panic")
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.delivered[0] != 2 || len(d.lost) != 1 || d.lost[0] != k || c.Panics() != 1 {
		t.Fatalf("delivered %v, lost %v, panics %d", d.delivered, d.lost, c.Panics())
	}
}
