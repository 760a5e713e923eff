package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/engagedhq/engaged/actors"
)

// ReplaySource is what a replay needs of the records store: the
// deliveries the dispatcher kept (persist.Store.WebhookDeliveries).
type ReplaySource interface {
	WebhookDeliveries(ctx context.Context, endpointID string, from, to time.Time, limit int) ([]actors.WebhookDelivery, error)
}

// ReplaySummary is the answer to a replay request.
type ReplaySummary struct {
	ReplayID string      `json:"replayId"`
	From     actors.Time `json:"from"`
	// To is the end of the part replayed: the request's to when Complete,
	// else NextFrom.
	To     actors.Time `json:"to"`
	Queued int         `json:"queued"`
	// Complete is false when the range held more than
	// actors.MaxWebhookReplayDeliveries deliveries: the rest, from
	// NextFrom, is for another request.
	Complete bool         `json:"complete"`
	NextFrom *actors.Time `json:"nextFrom,omitempty"`
}

// Replay queues again, to endpoint ep only, the kept deliveries of ep whose
// event timestamp is in [from, to) (milliseconds), at most
// actors.MaxWebhookReplayDeliveries of them, oldest first. Each keeps its
// webhook-id, type, timestamp and data, so its body is the original's and
// receivers drop it if they had it; it goes through the dispatcher like any
// delivery (per-endpoint limits, retries, attempts), its attempts counted
// under replay id. It waits for the stream's acknowledgements, since the
// caller answers 202.
func (o *Outbox) Replay(ctx context.Context, src ReplaySource, ep actors.WebhookEndpoint, id string, from, to time.Time) (ReplaySummary, error) {
	from, to = from.UTC().Truncate(time.Millisecond), to.UTC().Truncate(time.Millisecond)
	limit := actors.MaxWebhookReplayDeliveries
	list, err := src.WebhookDeliveries(ctx, ep.ID, from, to, limit+1)
	if err != nil {
		return ReplaySummary{}, err
	}
	sum := ReplaySummary{ReplayID: id, From: actors.NewTime(from), To: actors.NewTime(to), Complete: true}
	if len(list) > limit {
		// Cut at a millisecond boundary so that the next request, from
		// NextFrom, neither misses nor repeats a delivery.
		end := list[limit].Timestamp.Truncate(time.Millisecond)
		n := 0
		for n < len(list) && list[n].Timestamp.Before(end) {
			n++
		}
		list = list[:n]
		if n == 0 {
			// More than limit deliveries in one millisecond: take all of
			// it rather than never move on.
			if list, err = src.WebhookDeliveries(ctx, ep.ID, end, end.Add(time.Millisecond), 1<<20); err != nil {
				return ReplaySummary{}, err
			}
			end = end.Add(time.Millisecond)
		}
		next := actors.NewTime(end)
		sum.To, sum.NextFrom, sum.Complete = next, &next, false
	}
	futures := make([]jetstream.PubAckFuture, 0, len(list))
	for _, kd := range list {
		b, err := json.Marshal(Delivery{EndpointID: ep.ID, ID: kd.WebhookID, Type: kd.Type, Timestamp: kd.Timestamp, Data: kd.Data, Replay: id})
		if err != nil {
			return ReplaySummary{}, err
		}
		// Its own Nats-Msg-Id: the original's may still be inside the
		// stream's duplicate window.
		f, err := o.js.PublishAsync(subjectPrefix+ep.ID, b, jetstream.WithMsgID(ep.ID+":"+kd.WebhookID+":"+id))
		if err != nil {
			return ReplaySummary{}, replayUnavailable(err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return ReplaySummary{}, replayUnavailable(err)
		case <-ctx.Done():
			return ReplaySummary{}, replayUnavailable(ctx.Err())
		}
	}
	sum.Queued = len(list)
	return sum, nil
}

func replayUnavailable(err error) error {
	return fmt.Errorf("%w (%w)", &actors.Error{Code: actors.EUnavailable, Message: "could not queue the replay; it is safe to repeat (receivers drop webhook-ids they had)", RetryAfter: time.Second}, err)
}
