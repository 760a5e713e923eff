package webhooks

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// EraseQueued deletes, with the secure delete that overwrites their bytes,
// the queued deliveries whose message (headers and body) match accepts: an
// erasure's subject must not be delivered, nor stay in the stream's files
// (docs/PRIVACY.md). It reads the queue message by message (a work-queue
// stream admits no second consumer over its subjects); the queue holds only
// deliveries not done yet, so it is short. It returns how many it deleted.
//
// A delivery acknowledged before the erasure was removed by the work queue
// the ordinary way, which may leave its bytes in a block file; a purge
// below the first queued message then compacts the stream (see below and
// docs/PRIVACY.md).
func EraseQueued(ctx context.Context, js jetstream.JetStream, match func([]byte) bool) (int, error) {
	stream, err := js.Stream(ctx, StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("webhook stream: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("webhook stream: %w", err)
	}
	n := 0
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			continue // delivered meanwhile, or never there (a gap)
		}
		if !match(m.Data) {
			continue
		}
		if err := stream.SecureDeleteMsg(ctx, seq); err != nil {
			if _, gerr := stream.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
				continue // delivered and removed by the work queue meanwhile
			}
			return n, fmt.Errorf("webhook delivery %d: %w", seq, err)
		}
		n++
	}
	// Deliveries done before the erasure were removed by the work queue the
	// ordinary way, their bytes possibly still in a block file. A purge
	// below the first message still queued removes nothing the queue holds,
	// and makes JetStream drop or rewrite the blocks that held only removed
	// ones.
	if info, err = stream.Info(ctx); err == nil {
		err = stream.Purge(ctx, jetstream.WithPurgeSequence(info.State.FirstSeq))
	}
	if err != nil {
		return n, fmt.Errorf("webhook stream compaction: %w", err)
	}
	return n, nil
}
