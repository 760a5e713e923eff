package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go"

	"engaged/actors"
	"engaged/transport/wire"
)

// SystemSubject is the core NATS subject on which trusted services inside
// the deployment record system events (email_sent, share_created,
// share_revoked) for a render. The README documents the JSON schema. Every
// instance subscribes in the queue group systemQueue, so each message is
// handled once.
const SystemSubject = "engaged.system.events"

const (
	systemQueue   = "engaged"
	systemWorkers = 4   // messages handled at once per instance
	systemBuffer  = 256 // messages waiting per instance; past it NATS drops (slow consumer)
)

// SystemEvents consumes SystemSubject: it validates each message and
// republishes valid ones onto the log, with the message's id as Nats-Msg-Id
// (so a publisher's retry is stored once). Invalid messages are logged,
// counted (/stats) and never applied. A message with a reply subject gets
// an answer: {"ok":true,"recorded":bool} or {"ok":true,"duplicate":true}, or
// {"ok":false,"error":{"code","message","issues"?}}.
//
// Core NATS delivers at most once: a publisher that needs to know its event
// was stored uses request-reply and retries with the same id on timeout.
type SystemEvents struct {
	srv  *Server
	sub  *nats.Subscription
	ch   chan *nats.Msg
	quit chan struct{}
	wg   sync.WaitGroup // workers
	once sync.Once
}

// StartSystemEvents subscribes to SystemSubject on nc and starts the
// workers. Stop must be called before the server shuts down.
func (s *Server) StartSystemEvents(nc *nats.Conn) (*SystemEvents, error) {
	se := &SystemEvents{srv: s, ch: make(chan *nats.Msg, systemBuffer), quit: make(chan struct{})}
	sub, err := nc.ChanQueueSubscribe(SystemSubject, systemQueue, se.ch)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", SystemSubject, err)
	}
	se.sub = sub
	for i := 0; i < systemWorkers; i++ {
		se.wg.Add(1)
		go se.work()
	}
	return se, nil
}

// Stop unsubscribes, lets each worker finish the message in hand and waits
// for them. Messages still buffered are dropped unanswered; their
// publishers time out and retry. Stop is idempotent.
func (se *SystemEvents) Stop() {
	se.once.Do(func() {
		_ = se.sub.Unsubscribe()
		close(se.quit)
		se.wg.Wait()
	})
}

func (se *SystemEvents) work() {
	defer se.wg.Done()
	for {
		select {
		case <-se.quit:
			return
		case m := <-se.ch:
			se.handle(m)
		}
	}
}

type systemReply struct {
	OK        bool       `json:"ok"`
	Recorded  *bool      `json:"recorded,omitempty"`
	Duplicate bool       `json:"duplicate,omitempty"`
	Error     *errorBody `json:"error,omitempty"`
}

func (se *SystemEvents) handle(m *nats.Msg) {
	s := se.srv
	reply := func(r systemReply) {
		if m.Reply == "" {
			return
		}
		b, _ := json.Marshal(r)
		_ = m.Respond(b)
	}
	fail := func(err error) {
		var e *actors.Error
		if !errors.As(err, &e) {
			e = &actors.Error{Code: actors.EInternal, Message: "internal error"}
		}
		switch e.Code {
		case actors.EUnavailable, actors.EInternal:
			s.sh.stats.sysFailed.Add(1)
			s.logger.Warn("system event not stored", "err", err)
		default:
			s.sh.stats.sysRejected.Add(1)
			s.logger.Warn("system event rejected", "code", e.Code, "err", e.Message, "issues", e.Issues)
		}
		reply(systemReply{Error: &errorBody{Code: e.Code, Message: e.Message, Issues: e.Issues}})
	}
	ctx, cancel := s.requestCtx()
	defer cancel()
	k, ev, err := s.parseSystemEvent(ctx, m.Data)
	if err != nil {
		fail(err)
		return
	}
	rec, dup, err := s.recordAll(ctx, k, ev.ID, ev)
	if err != nil {
		fail(err)
		return
	}
	if dup {
		s.sh.stats.sysDuplicate.Add(1)
		reply(systemReply{OK: true, Duplicate: true})
		return
	}
	s.sh.stats.sysAccepted.Add(1)
	reply(systemReply{OK: true, Recorded: &rec[0]})
}

// parseSystemEvent validates one message of SystemSubject against the
// documented schema and checks that its project and render exist.
func (s *Server) parseSystemEvent(ctx context.Context, b []byte) (actors.ItemID, actors.RenderEvent, error) {
	var ev actors.RenderEvent
	if len(b) > s.opts.MaxBodyBytes {
		return actors.ItemID{}, ev, actors.Errorf(actors.ETooLarge, "message exceeds %d bytes", s.opts.MaxBodyBytes)
	}
	m, err := wire.DecodeSystemEvent(b, s.opts.MaxMetadataBytes)
	if err != nil {
		return actors.ItemID{}, ev, err
	}
	ev.ID, ev.EventType, ev.Metadata = m.ID, m.Type, m.Metadata
	project, render, share := m.Project, m.Render, m.ShareID
	st, err := s.store()
	if err != nil {
		return actors.ItemID{}, ev, err
	}
	if _, err := st.ActiveRender(ctx, project, render); err != nil {
		if actors.ErrorCode(err) == actors.ENotFound {
			return actors.ItemID{}, ev, actors.Errorf(actors.ENotFound, "no render %s in project %s", render, project)
		}
		return actors.ItemID{}, ev, err
	}
	ev.ActorKind = actors.System
	if share != "" {
		ev.ShareID = &share
	}
	ev.CreatedAt = actors.NewTime(s.now())
	return actors.ItemID{Project: project, Item: render}, ev, nil
}

// getStats serves GET /stats: operator counters of the share, public,
// e-mail and internal-subject paths since start.
func (s *Server) getStats(c *fiber.Ctx) error {
	st := &s.sh.stats
	return c.JSON(fiber.Map{
		"systemEvents": fiber.Map{
			"accepted": st.sysAccepted.Load(), "duplicate": st.sysDuplicate.Load(),
			"rejected": st.sysRejected.Load(), "failed": st.sysFailed.Load(),
		},
		"public": fiber.Map{
			"rateLimited": st.rateLimited.Load(), "pixelsInvalid": st.pixelsInvalid.Load(),
			"opensNotRecorded": st.opensNotRecorded.Load(),
			"ipLimiters":       s.sh.byIP.len(), "shareLimiters": s.sh.byShare.len(),
		},
		"mail": fiber.Map{"sent": st.mailSent.Load(), "failed": st.mailFailed.Load()},
	})
}
