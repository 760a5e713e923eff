package actors

import (
	"context"

	"github.com/engagedhq/engaged/actors/coalesce"
)

// loader batches the snapshot loads of concurrent activations: a burst of
// new items (a partition consumer delivering the first events of hundreds
// of them) costs a few queries instead of one each (coalesce.Group: no
// goroutine of its own, a lone activation pays no delay). Each query is
// bounded by activationTimeout.
type loader struct {
	g *coalesce.Group[ItemID, Snapshot]
}

// maxBatch bounds one query's keys.
const maxBatch = 512

func newLoader(store SnapshotStore) loader {
	return loader{g: coalesce.New(maxBatch, activationTimeout, store.LoadSnapshots)}
}

// load returns the newest snapshot of k.
func (l loader) load(ctx context.Context, k ItemID) (Snapshot, bool, error) {
	return l.g.Get(ctx, k)
}
