package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// The SDK events API: POST /v1/events and /v1/events/batch (publishable or
// secret key), content registration and the per-content read (secret key).
// Events are decoded and validated once, here; a request's valid events are
// grouped into one log message per content item, all messages are published
// at once and their acks awaited together, and each event's verdict
// (counted, or a duplicate eventId) comes from its item's actor.

// Result statuses of one event.
const (
	statusAccepted  = "accepted"
	statusAdjusted  = "adjusted" // accepted, with its future timestamp set to the server's time
	statusDuplicate = "duplicate"
	statusRejected  = "rejected"
)

// eventResult is results[i] of a batch.
type eventResult struct {
	Status    string       `json:"status"`
	EventID   *string      `json:"eventId"`             // null only for a rejected event that came without a usable eventId
	Timestamp *actors.Time `json:"timestamp,omitempty"` // accepted and adjusted: the event time as stored
	Error     *errorBody   `json:"error,omitempty"`     // rejected
}

type batchResult struct {
	Received int           `json:"received"` // accepted, adjusted and duplicate: stored or already stored; do not resend
	Failed   int           `json:"failed"`   // rejected: resending will not help
	Results  []eventResult `json:"results"`
}

// appendEnvelope appends {"data":r,"meta":{"requestId":id}}, the same JSON
// encoding/json writes (TestBatchResultJSON), by hand: encoding a batch's
// 100 results by reflection was 6 % of batch ingest CPU. Rejections, rare
// and carrying field errors, still go through encoding/json.
func (r *batchResult) appendEnvelope(b []byte, id string) []byte {
	b = append(b, `{"data":{"received":`...)
	b = strconv.AppendInt(b, int64(r.Received), 10)
	b = append(b, `,"failed":`...)
	b = strconv.AppendInt(b, int64(r.Failed), 10)
	b = append(b, `,"results":[`...)
	for i := range r.Results {
		if i > 0 {
			b = append(b, ',')
		}
		e := &r.Results[i]
		if e.Error != nil {
			enc, err := json.Marshal(e)
			if err == nil {
				b = append(b, enc...)
				continue
			}
		}
		b = append(b, `{"status":`...)
		b = actors.AppendJSONString(b, e.Status)
		b = append(b, `,"eventId":`...)
		if e.EventID == nil {
			b = append(b, "null"...)
		} else {
			b = actors.AppendJSONString(b, *e.EventID)
		}
		if e.Timestamp != nil {
			b = append(b, `,"timestamp":"`...)
			b = e.Timestamp.UTC().AppendFormat(b, actors.TimeLayout)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, `]},"meta":{"requestId":`...)
	b = actors.AppendJSONString(b, id)
	return append(b, "}}"...)
}

type envelope struct {
	Data any  `json:"data"`
	Meta meta `json:"meta"`
}

func (s *Server) ok(c *fiber.Ctx, status int, data any) error {
	return c.Status(status).JSON(envelope{Data: data, Meta: meta{RequestID: requestID(c)}})
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// postEvent serves POST /v1/events: one event (sdkRequest authenticates it,
// from a header or the body; cors.go). A rejected event is the
// request's error; otherwise {"received":true,"eventId":…}, also for a
// duplicate (it was received before).
func (s *Server) postEvent(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	p, b, err := s.sdkRequest(c)
	if err != nil {
		return err
	}
	res, err := s.ingest(ctx, p, [][]byte{b}, nil)
	if err != nil {
		return err
	}
	if res.errs[0] != nil {
		return res.errs[0]
	}
	return s.ok(c, fiber.StatusOK, fiber.Map{"received": true, "eventId": res.results[0].EventID})
}

// postEventBatch serves POST /v1/events/batch: up to MaxBatchEvents events,
// each accepted or rejected on its own.
func (s *Server) postEventBatch(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	p, b, err := s.sdkRequest(c)
	if err != nil {
		return err
	}
	events, sentAt, err := wire.SplitContentBatch(b)
	if err != nil {
		return err
	}
	res, err := s.ingest(ctx, p, events, sentAt)
	if err != nil {
		return err
	}
	out := batchResult{Results: res.results}
	for _, r := range res.results {
		if r.Status == statusRejected {
			out.Failed++
		} else {
			out.Received++
		}
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(out.appendEnvelope(make([]byte, 0, 64+80*len(out.Results)), requestID(c)))
}

type ingestResult struct {
	results []eventResult
	errs    []*actors.Error // the rejection of event i, or nil
}

// itemGroup is one item's log message in a request: a content item's, or a
// user's (msg.User: the request's events with that userId).
type itemGroup struct {
	key    actors.ItemID
	msg    actors.Message
	events []int // content item: request index of each record in msg.Content
}

// ingest validates raws, publishes the valid ones and collects each event's
// verdict. An error means nothing can be said about the events: the client
// retries the whole request, and eventId dedupe makes that safe.
func (s *Server) ingest(ctx context.Context, p actors.Principal, raws [][]byte, sentAt *time.Time) (ingestResult, error) {
	o := wire.ParseOptions{ReceivedAt: s.now(), SentAt: sentAt, MaxDataBytes: s.opts.MaxMetadataBytes}
	parsed := make([]actors.ParsedContentEvent, len(raws))
	res := ingestResult{results: make([]eventResult, len(raws)), errs: make([]*actors.Error, len(raws))}
	for i, raw := range raws {
		parsed[i] = wire.ParseContentEvent(raw, o)
	}
	unknown, err := s.rejectUnknownContent(ctx, p, parsed)
	if err != nil {
		return res, err
	}
	groups := groupByItem(p.ProjectID, parsed, res)
	counted, err := s.publish(ctx, groups, len(parsed))
	if err != nil {
		return res, err
	}
	for i := range parsed {
		r := &res.results[i]
		if r.Status != "" {
			continue
		}
		switch {
		case !counted[i]:
			r.Status = statusDuplicate
		case parsed[i].Adjusted:
			r.Status = statusAdjusted
		default:
			r.Status = statusAccepted
		}
		if counted[i] {
			t := actors.UnixMilli(parsed[i].Event.At)
			r.Timestamp = &t
		}
	}
	s.countContent(res, unknown)
	return res, nil
}

// countContent reports a request's SDK event verdicts to the metrics;
// unknown[i] marks an event rejected because its content id is not
// registered.
func (s *Server) countContent(res ingestResult, unknown map[int]bool) {
	if s.opts.ObserveEvents == nil {
		return
	}
	var recorded, duplicate int
	rejected := map[string]int{}
	for i, r := range res.results {
		switch r.Status {
		case statusAccepted, statusAdjusted:
			recorded++
		case statusDuplicate:
			duplicate++
		case statusRejected:
			if unknown[i] {
				rejected[RejectUnknownItem]++
			} else {
				rejected[rejectReason(res.errs[i])]++
			}
		}
	}
	s.countEvents(KindContent, OutcomeRecorded, "", recorded)
	s.countEvents(KindContent, OutcomeDuplicate, "", duplicate)
	for reason, n := range rejected {
		s.countEvents(KindContent, OutcomeRejected, reason, n)
	}
}

// rejectUnknownContent rejects the valid events whose content ids are not
// registered in p's project, or, when the project has autoCreateContent on,
// registers them within the cap and the rate (autoCreate) and rejects only
// the events past those. Each distinct id is looked up once per request,
// and registered ids are cached.
func (s *Server) rejectUnknownContent(ctx context.Context, p actors.Principal, parsed []actors.ParsedContentEvent) (map[int]bool, error) {
	known := map[string]*actors.Error{} // id -> nil when registered, else why not
	var ids []string                    // in request order: creations spend the rate's tokens in that order
	for i := range parsed {
		if parsed[i].Err != nil {
			continue
		}
		for j, id := range []string{parsed[i].ContentID, parsed[i].FromID} {
			if _, seen := known[id]; !seen && (j == 0 || id != "") {
				known[id] = nil
				ids = append(ids, id)
			}
		}
	}
	const unknown = "Unknown contentId: no content item with that id in this key's project"
	notFound := &actors.Error{Code: actors.EInvalid, Message: "event refers to an unknown content item"}
	for _, id := range ids {
		ok, err := s.contentExists(ctx, p.ProjectID, id)
		if err != nil {
			return nil, err
		}
		if ok {
			continue
		}
		known[id] = notFound
		if p.AutoCreateContent {
			if known[id], err = s.autoCreateContent(ctx, p.ProjectID, id); err != nil {
				return nil, err
			}
			if known[id] == nil {
				continue
			}
			if known[id].Code == actors.ENotFound { // the setting went off, or the id is a render's
				known[id] = notFound
			}
		}
	}
	rejected := map[int]bool{} // events rejected for an unknown id, for the metrics
	for i := range parsed {
		ev := &parsed[i]
		if ev.Err != nil {
			continue
		}
		is := &actors.Issues{FormErrors: []string{}}
		var why *actors.Error
		for j, ref := range []struct{ id, field string }{{ev.ContentID, ev.ContentField}, {ev.FromID, "data.fromContentId"}} {
			if e := known[ref.id]; e != nil && (j == 0 || ref.id != "") {
				if e == notFound {
					is.Add(ref.field, unknown)
				} else {
					is.Add(ref.field, e.Message)
				}
				// The event's code is its most final reason: an unknown id
				// (resending fails again) before the cap before the rate.
				if why == nil || finality(e) < finality(why) {
					why = e
				}
			}
		}
		if why != nil {
			ev.Err = &actors.Error{Code: why.Code, Message: why.Message, Issues: is, RetryAfter: why.RetryAfter}
			rejected[i] = why == notFound
		}
	}
	return rejected, nil
}

// finality ranks a reason to reject an event's content id, most final first.
func finality(e *actors.Error) int {
	switch e.Code {
	case actors.EInvalid:
		return 0
	case actors.EContentLimit:
		return 1
	}
	return 2
}

// autoCreateContent registers content id for an SDK event, within the
// project's creation rate (on this instance) and item cap. It returns nil
// when the item now exists, the per-event rejection otherwise (rate_limited,
// content_limit, or not_found when it cannot be created), and an error only
// when nothing can be said (the store is down: the request is retried).
func (s *Server) autoCreateContent(ctx context.Context, project, id string) (*actors.Error, error) {
	if wait := s.autoCreate.take(project, s.now()); wait > 0 {
		return &actors.Error{Code: actors.ERateLimited, RetryAfter: wait,
			Message: "content created by events in this project is over its rate (ENGAGED_AUTOCREATE_RATE)"}, nil
	}
	it, err := s.dir.AutoCreateContent(ctx, project, id, s.opts.AutoCreate.MaxItems)
	if err == nil {
		s.remember(it)
		return nil, nil
	}
	var e *actors.Error
	if errors.As(err, &e) && (e.Code == actors.EContentLimit || e.Code == actors.ENotFound) {
		return e, nil
	}
	return nil, err
}

// groupByItem fills in the results of rejected events and of repeats inside
// the request, gives events without an eventId one, and returns one message
// per item holding the records of the rest, in request order, then one
// message per user holding the user's interactions (ContentEventType.Interaction;
// a user's state is an item of its own, actors.UserItemID, fed through its
// own subject like any item).
func groupByItem(project string, parsed []actors.ParsedContentEvent, res ingestResult) []*itemGroup {
	byItem := make(map[string]*itemGroup, len(parsed))
	byUser := map[string]*itemGroup{}
	var order, users []*itemGroup
	first := make(map[string]bool, len(parsed))
	for i := range parsed {
		ev := &parsed[i]
		r := &res.results[i]
		if ev.Event.ID != "" {
			r.EventID = ptr(ev.Event.ID)
		}
		if ev.Err != nil {
			r.Status = statusRejected
			r.Error = &errorBody{Code: ev.Err.Code, Message: ev.Err.Message, Issues: ev.Err.Issues}
			res.errs[i] = ev.Err
			continue
		}
		if ev.Event.ID == "" {
			ev.Event.ID = "evt_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
			r.EventID = ptr(ev.Event.ID)
		} else if first[ev.Event.ID] {
			// A repeat of an earlier event of this request, which alone is
			// published.
			r.Status = statusDuplicate
			continue
		}
		first[ev.Event.ID] = true
		for _, rec := range ev.Records() {
			g := byItem[rec.Item]
			if g == nil {
				g = &itemGroup{key: actors.ItemID{Project: project, Item: rec.Item}}
				byItem[rec.Item] = g
				order = append(order, g)
			}
			g.msg.Content = append(g.msg.Content, rec.Event)
			g.events = append(g.events, i)
		}
		if u := ev.Event.UserID; u != "" && ev.Event.Type.Interaction() {
			g := byUser[u]
			if g == nil {
				g = &itemGroup{key: actors.UserItemID(project, u)}
				byUser[u] = g
				users = append(users, g)
			}
			g.msg.User = append(g.msg.User, actors.UserEvent{ID: ev.Event.ID, Type: ev.Event.Type, ContentID: ev.ContentID, UserID: u, At: ev.Event.At})
		}
	}
	return append(order, users...)
}

// publish submits one message per item through the one ingest path
// (actors.Registry.Submit: all published at once, then the verdicts) and
// reports, per request index, whether any record of the event was counted.
func (s *Server) publish(ctx context.Context, groups []*itemGroup, n int) ([]bool, error) {
	subs := make([]*actors.Submission, len(groups))
	for i, g := range groups {
		// A user's message decides no verdict (the content's actor does).
		subs[i] = &actors.Submission{Key: g.key, MsgID: contentMsgID(g.key, g.msg.Content, g.msg.User), Msg: g.msg,
			NoVerdict: len(g.msg.Render)+len(g.msg.Content) == 0}
	}
	if err := s.engine.Submit(ctx, subs...); err != nil {
		return nil, err
	}
	counted := make([]bool, n)
	for i, g := range groups {
		// A duplicate: JetStream stored this very message moments ago,
		// from an earlier try of this request; its events are duplicates
		// of that one's, and their verdicts went to that try. A user's
		// message has no say in an event's verdict: the content's actor
		// decides it.
		if len(g.msg.User) > 0 {
			continue
		}
		for j, v := range subs[i].Counted {
			counted[g.events[j]] = counted[g.events[j]] || v
		}
	}
	return counted, nil
}

// contentMsgID is the Nats-Msg-Id of an item's message: a hash of the item and
// of its records' ids and roles, so a retried request that produces the same
// message within the stream's duplicate window is stored once.
func contentMsgID(k actors.ItemID, evs []actors.ContentEvent, users []actors.UserEvent) string {
	h := sha256.New()
	h.Write([]byte(k.Project))
	h.Write([]byte{0})
	h.Write([]byte(k.Item))
	for i := range evs {
		h.Write([]byte{0})
		h.Write([]byte(evs[i].Role))
		h.Write([]byte{1})
		h.Write([]byte(evs[i].ID))
	}
	for i := range users {
		h.Write([]byte{2})
		h.Write([]byte(users[i].ID))
	}
	return "sdk-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// contentExists reports whether id is a registered content item of project
// (the item set answers most, itemset.go).
func (s *Server) contentExists(ctx context.Context, project, id string) (bool, error) {
	return s.exists(ctx, actors.ItemID{Project: project, Item: id}, actors.ContentItem)
}

// postContent serves POST /v1/contents: registers a content item, with the
// given {"id"} or a generated one.
func (s *Server) postContent(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	b, err := body(c, s.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	id, err := wire.DecodeContent(b)
	if err != nil {
		return err
	}
	it, err := s.dir.CreateContent(ctx, principal(c).ProjectID, id)
	if err != nil {
		return err
	}
	s.remember(it)
	return s.ok(c, fiber.StatusCreated, contentView(it))
}

func contentView(it actors.Item) fiber.Map {
	return fiber.Map{"id": it.ID, "projectId": it.ProjectID, "createdAt": actors.NewTime(it.CreatedAt)}
}

// content resolves the :id parameter to a content item of the caller's
// project. An invalid id, an unregistered one and another project's are the
// same 404, and an id never reaches a NATS subject unvalidated.
func (s *Server) content(ctx context.Context, c *fiber.Ctx) (actors.ItemID, error) {
	id := c.Params("id")
	p := principal(c)
	notFound := actors.Errorf(actors.ENotFound, "no content item with that id in this key's project")
	if !actors.ValidID(id) {
		return actors.ItemID{}, notFound
	}
	id = strings.Clone(id)
	ok, err := s.contentExists(ctx, p.ProjectID, id)
	if err != nil {
		return actors.ItemID{}, err
	}
	if !ok {
		return actors.ItemID{}, notFound
	}
	return actors.ItemID{Project: p.ProjectID, Item: id}, nil
}

// getContentEngagement serves GET /v1/contents/:id/engagement.
func (s *Server) getContentEngagement(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.content(ctx, c)
	if err != nil {
		return err
	}
	sum, err := s.engine.ReadContent(ctx, k)
	if err != nil {
		return err
	}
	return s.ok(c, fiber.StatusOK, sum)
}

// getContentSignals serves GET /v1/contents/:id/signals: the content's
// ranking signals over ?window=: all from the summary (actors.Signals), 1h
// and 24h from the content's in-memory series (actors.WindowSignals).
func (s *Server) getContentSignals(c *fiber.Ctx) error {
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, err := s.content(ctx, c)
	if err != nil {
		return err
	}
	window, err := wire.SignalsWindow(c.Query("window"))
	if err != nil {
		return err
	}
	if window != actors.WindowAll {
		f, err := s.engine.ContentWindow(ctx, k, window, s.now().UnixMilli())
		if err != nil {
			return err
		}
		return s.ok(c, fiber.StatusOK, actors.WindowSignals(k.Item, window, f))
	}
	sum, err := s.engine.ReadContent(ctx, k)
	if err != nil {
		return err
	}
	return s.ok(c, fiber.StatusOK, actors.Signals(&sum, window))
}
