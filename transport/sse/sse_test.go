package sse

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/engagedhq/engaged/actors"
)

// A stream keeps only the newest update not yet written: however many
// arrive while its client is stalled, one summary is pending.
func TestStreamKeepsNewestOnly(t *testing.T) {
	st := &stream{wake: make(chan struct{}, 1)}
	for seq := uint64(1); seq <= 100; seq++ {
		st.deliver(seq, []byte(fmt.Sprintf(`{"seq":%d}`, seq)))
	}
	st.deliver(50, []byte(`{"seq":50}`)) // older than pending: ignored
	if u := st.take(); u == nil || u.seq != 100 || string(u.payload) != `{"seq":100}` {
		t.Fatalf("pending = %+v, want seq 100", u)
	}
	if u := st.take(); u != nil {
		t.Fatalf("second take = %+v, want nothing", u)
	}
}

type noUpdates struct{}

func (noUpdates) Subscribe(context.Context, actors.ItemID, func(uint64, []byte)) (func(), error) {
	return func() {}, nil
}

// A panic in a stream's writer ends that stream only: it is counted, its
// slot is released, and the next stream is served.
func TestStreamPanicContained(t *testing.T) {
	ss := New(Options{Updates: noUpdates{}, MaxStreams: 1, MaxPerKey: 1, MaxLifetime: time.Minute, Heartbeat: 10 * time.Millisecond})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/s/:mode", func(c *fiber.Ctx) error {
		mode := c.Params("mode")
		keyValid := func() bool {
			if mode == "panic" {
				panic("test: stream writer")
			}
			return true
		}
		current := func(context.Context) (actors.Update, error) { return actors.Update{Seq: 1, Payload: []byte(`{}`)}, nil }
		return ss.Open(c.Context(), c, actors.ItemID{Project: "p", Item: "i"}, "key", "req_1", current, keyValid)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	defer func() {
		ss.Close()
		_ = ss.Wait(context.Background())
		_ = app.Shutdown()
	}()
	get := func(mode string) *http.Response {
		res, err := http.Get("http://" + ln.Addr().String() + "/s/" + mode)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := get("panic")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	io.Copy(io.Discard, res.Body) // ends when the panicking stream is closed
	res.Body.Close()
	// The stream's connection closes before its recover has counted.
	for deadline := time.Now().Add(5 * time.Second); ss.Panics() != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Panics() = %d, want 1", ss.Panics())
		}
	}
	// The one slot (per process and per key) is free again.
	var next *http.Response
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if next = get("ok"); next.StatusCode == 200 {
			break
		}
		next.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no slot after the panic: %d", next.StatusCode)
		}
	}
	defer next.Body.Close()
	line, _ := bufio.NewReader(next.Body).ReadString('\n')
	if !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q", line)
	}
}
