package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// The erasure job (docs/PRIVACY.md, "Erasure"): it carries out the requests
// POST /v1/privacy/erasures stores, one at a time per instance, leased in
// Postgres so that one instance works on a request and another (or this
// one, restarted) resumes it when the lease runs out. Every step is
// idempotent, so a resumed job simply runs again from the start.

// erasureStore is what the job needs of Postgres (persist.Store).
type erasureStore interface {
	ClaimErasure(ctx context.Context) (actors.ErasureRequest, bool, error)
	ErasureProgress(ctx context.Context, e actors.ErasureRequest) error
	FinishErasure(ctx context.Context, id string, failure *string) error
	EmailMessageIDs(ctx context.Context, projectID, recipient string) ([]string, error)
	EraseRecords(ctx context.Context, projectID string, messageIDs, needles []string) (int64, error)
	SnapshotItems(ctx context.Context, projectID string, needles []string) ([]string, error)
	RenewErasure(ctx context.Context, id string) error
}

// erasureLog is what the job needs of the event log (jetlog.Log).
type erasureLog interface {
	LastSeq(ctx context.Context) (uint64, error)
	Find(ctx context.Context, project string, through uint64, match func([]byte) bool, fn func(k actors.ItemID, seq uint64)) error
	SecureDelete(ctx context.Context, seq uint64) error
}

// erasureDeps are the job's ports.
type erasureDeps struct {
	store erasureStore
	log   erasureLog
	// persist scrubs an item's state and writes its snapshot through
	// through (actors.Registry.Persist).
	persist func(ctx context.Context, k actors.ItemID, through uint64, e *actors.Erasure) (uint64, error)
	// eraseQueued deletes the subject's queued webhook deliveries
	// (webhooks.EraseQueued).
	eraseQueued func(ctx context.Context, match func([]byte) bool) (int, error)
	// dropCopies tells every instance to drop its read-only copies of
	// items (live.PublishErased → actors.Registry.DropCopy): they still
	// hold what the scrub removed on the owner.
	dropCopies func(ctx context.Context, project string, items []actors.ItemID) error
	logger     *slog.Logger
	lease      time.Duration // persist.ErasureLease
}

// erasurePoll is how often the job looks for requests it was not woken for
// (made on another instance, or left by a crashed one).
const erasurePoll = 5 * time.Second

// maxErasureRuns is how many runs an erasure gets: each ends in an error
// only when the log, Postgres or an item stayed unavailable past
// persistRetry, so this many in a row (about half an hour with the lease)
// is a fault an operator must see: the request fails, with the last error.
const maxErasureRuns = 50

// persistRetry bounds how long the job retries one item's snapshot while
// its partition is being claimed or the store is unavailable; past it the
// run ends and the request is taken up again after its lease.
const persistRetry = time.Minute

// startErasures runs the job on one goroutine owned by the returned stop,
// which waits for it to end; wake makes it look for requests now.
func startErasures(d erasureDeps) (wake func(), stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	kick := make(chan struct{}, 1)
	go func() {
		defer close(done)
		t := time.NewTicker(erasurePoll)
		defer t.Stop()
		for {
			for d.runOne(ctx) {
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-kick:
			}
		}
	}()
	wake = func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	return wake, func() { cancel(); <-done }
}

// runOne runs one claimed request and reports whether there was one.
func (d erasureDeps) runOne(ctx context.Context) bool {
	e, ok, err := d.store.ClaimErasure(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.logger.Warn("claim erasure", "err", err)
		}
		return false
	}
	if !ok {
		return false
	}
	d.logger.Info("erasure started", "erasure", e.ID, "kind", e.Kind, "step", e.Step, "run", e.Attempts)
	stopRenewing := d.renew(ctx, e.ID)
	err = d.run(ctx, &e)
	stopRenewing()
	if err != nil {
		if e.Attempts >= maxErasureRuns && ctx.Err() == nil {
			msg := "gave up after " + fmt.Sprint(e.Attempts) + " runs: " + err.Error()
			if ferr := d.store.FinishErasure(ctx, e.ID, &msg); ferr != nil {
				d.logger.Warn("finish erasure", "erasure", e.ID, "err", ferr)
			}
			d.logger.Error("erasure failed", "erasure", e.ID, "err", err)
			return true
		}
		// Left running: its lease runs out and a job takes it up again.
		if ctx.Err() == nil {
			d.logger.Warn("erasure interrupted; it resumes after its lease", "erasure", e.ID, "step", e.Step, "err", err)
		}
		return false
	}
	if err := d.store.FinishErasure(ctx, e.ID, nil); err != nil {
		d.logger.Warn("finish erasure", "erasure", e.ID, "err", err)
		return false
	}
	d.logger.Info("erasure done", "erasure", e.ID, "items", e.ItemsDone, "messages", e.MessagesDeleted)
	return true
}

// renew keeps erasure id's lease while a run goes on, on one goroutine
// owned by the returned stop, which waits for it to end: a step that takes
// long (reading a large log) must not let another instance take the same
// request up meanwhile.
func (d erasureDeps) renew(ctx context.Context, id string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(d.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := d.store.RenewErasure(ctx, id); err != nil && ctx.Err() == nil {
					d.logger.Warn("renew erasure lease", "erasure", id, "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// run carries out e. Steps, each safe to repeat:
//
//  1. needles: the identifier and, for an e-mail address, the ids of the
//     e-mails sent to it (stored, since step 4 scrubs the rows they come
//     from), and the log's last sequence: the erasure covers what was
//     stored before it;
//  2. log: find the project's log messages through that sequence holding a
//     needle; per item (plus the user's own item for a userId, and the
//     items whose snapshot holds a needle), scrub the
//     actor's state and write its snapshot (Registry.Persist: a snapshot
//     through at least the item's newest message found), and only then
//     delete the item's messages with the secure delete, so replay stays
//     exact: it starts after the snapshot, past every deleted message;
//  3. records: e-mail recipients, webhook deliveries and attempts in
//     Postgres;
//  4. webhooks: queued deliveries in the webhook stream.
func (d erasureDeps) run(ctx context.Context, e *actors.ErasureRequest) error {
	if len(e.Needles) == 0 || e.ThroughSeq == 0 {
		needles := []string{e.Identifier}
		if e.Kind == actors.EraseEmail {
			ids, err := d.store.EmailMessageIDs(ctx, e.ProjectID, e.Identifier)
			if err != nil {
				return err
			}
			needles = append(needles, ids...)
		}
		through, err := d.log.LastSeq(ctx)
		if err != nil {
			return err
		}
		e.Needles, e.ThroughSeq, e.Step = needles, max(through, 1), "log"
		if err := d.store.ErasureProgress(ctx, *e); err != nil {
			return err
		}
	}
	er := &actors.Erasure{Project: e.ProjectID, Needles: e.Needles}
	if e.Kind == actors.EraseUserID {
		er.UserID = e.Identifier
	}

	msgs := map[actors.ItemID][]uint64{}
	if err := d.log.Find(ctx, e.ProjectID, e.ThroughSeq, er.Matches, func(k actors.ItemID, seq uint64) {
		msgs[k] = append(msgs[k], seq)
	}); err != nil {
		return err
	}
	// Items whose snapshot holds the subject although the log no longer
	// holds a message of it (the retention sweep removed those once a
	// snapshot covered them; recent events outlive them).
	snapped, err := d.store.SnapshotItems(ctx, e.ProjectID, e.Needles)
	if err != nil {
		return err
	}
	for _, item := range snapped {
		if k := (actors.ItemID{Project: e.ProjectID, Item: item}); msgs[k] == nil {
			msgs[k] = []uint64{}
		}
	}
	if er.UserID != "" {
		if k := actors.UserItemID(e.ProjectID, er.UserID); msgs[k] == nil {
			msgs[k] = []uint64{} // reset the user's state even if the log holds nothing of it any more
		}
	}
	items := make([]actors.ItemID, 0, len(msgs))
	for k := range msgs {
		items = append(items, k)
	}
	// In a fixed order, so a resumed run's progress counts the same items.
	slices.SortFunc(items, func(a, b actors.ItemID) int { return strings.Compare(a.Item, b.Item) })
	e.Step, e.ItemsTotal, e.ItemsDone = "log", len(items), 0
	for _, k := range items {
		var newest uint64 // the item's newest message found (0: none, read to the log's end)
		for _, seq := range msgs[k] {
			newest = max(newest, seq)
		}
		seq, err := d.persistItem(ctx, k, newest, er)
		if err != nil {
			return err
		}
		if seq < newest { // cannot happen: Persist read the log through newest
			return fmt.Errorf("snapshot of %s at %d does not cover message %d", k, seq, newest)
		}
		for _, seq := range msgs[k] {
			if err := d.log.SecureDelete(ctx, seq); err != nil {
				return err
			}
			e.MessagesDeleted++
		}
		e.ItemsDone++
		if err := d.store.ErasureProgress(ctx, *e); err != nil {
			return err
		}
	}

	if d.dropCopies != nil && len(items) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := d.dropCopies(pctx, e.ProjectID, items)
		cancel()
		if err != nil {
			return err
		}
	}

	e.Step = "records"
	if err := d.store.ErasureProgress(ctx, *e); err != nil {
		return err
	}
	var ids []string
	if e.Kind == actors.EraseEmail {
		ids = e.Needles[1:]
	}
	if _, err := d.store.EraseRecords(ctx, e.ProjectID, ids, e.Needles); err != nil {
		return err
	}
	e.Step = "webhooks"
	if err := d.store.ErasureProgress(ctx, *e); err != nil {
		return err
	}
	if d.eraseQueued != nil {
		if _, err := d.eraseQueued(ctx, er.Matches); err != nil {
			return err
		}
	}
	return nil
}

// persistItem scrubs k and writes its snapshot, retrying while the item's
// partition is being claimed or Postgres is unavailable, for up to
// persistRetry.
func (d erasureDeps) persistItem(ctx context.Context, k actors.ItemID, through uint64, er *actors.Erasure) (uint64, error) {
	deadline := time.Now().Add(persistRetry)
	for {
		seq, err := d.persist(ctx, k, through, er)
		if err == nil {
			return seq, nil
		}
		var ae *actors.Error
		if !errors.As(err, &ae) || ae.Code != actors.EUnavailable || time.Now().After(deadline) {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
