package main

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// trivialBody is the trivial handler's answer: a fixed JSON object of 600
// bytes, about the size of a render's engagement summary with a few events.
var trivialBody = func() []byte {
	const head, tail = `{"counts":{"viewed":1,"downloaded":0,"printed":0},"padding":"`, `"}`
	return []byte(head + strings.Repeat("x", 600-len(head)-len(tail)) + tail)
}()

// startTrivial serves the HTTP ceiling: a Fiber app (the framework engaged
// uses) whose one handler answers trivialBody to the partner-event route,
// with no key check, no log and no actor. Every scenario is reported as a
// share of it, measured by the same load tool in the same run.
func startTrivial() (url string, stop func(), err error) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	handler := func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(trivialBody)
	}
	app.Post("/v1/renders/:id/events", handler)
	app.Get("/v1/renders/:id/engagement", handler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = app.Listener(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = app.Shutdown(); <-done }, nil
}

// benchTrivial drives the trivial handler with the partner-event request
// of keyspace (same headers and body), closed loop.
func benchTrivial(ctx context.Context, o benchOptions, fx *fixture) (benchResult, error) {
	url, stop, err := startTrivial()
	if err != nil {
		return benchResult{}, err
	}
	defer stop()
	to := o
	to.url = url
	r := load(ctx, to, "trivial", o.rate, func(_ int, c *fasthttp.HostClient) (string, int) {
		return partnerEventTo(to, fx, c, fx.renders[0], `{"source":"bench"}`), 0
	})
	r.Note = fmt.Sprintf("a Fiber handler answering a fixed %d-byte JSON body to the same POST, in this process", len(trivialBody))
	return r, nil
}
