package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestPostToUpdateLatency measures how long an event takes to become
// visible to a NATS subscriber: from sending POST /v1/renders/:id/events to
// receiving the update that carries it. It is a measurement, not a check
// (nothing is asserted about the figures), so it runs only on request:
//
//	ENGAGED_MEASURE=1 go test -run TestPostToUpdateLatency -v ./cmd/engaged
//
// ENGAGED_MEASURE_POSTS sets the number of events (default 2000). The service
// runs with its default update interval (100ms); events go round-robin to 25
// renders, paced so that each render gets one event per 125ms: every event is
// the first after a quiet interval, which is the case event-to-visible
// latency is about (a burst's later events wait for the trailing edge by
// design).
func TestPostToUpdateLatency(t *testing.T) {
	if os.Getenv("ENGAGED_MEASURE") == "" {
		t.Skip("a measurement; run it with ENGAGED_MEASURE=1 (see the comment)")
	}
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("ENGAGED_MEASURE_POSTS")); err == nil && v > 0 {
		n = v
	}
	const renders = 25
	const pace = 5 * time.Millisecond
	e := newEnv(t).with("ENGAGED_NATS_LISTEN", "127.0.0.1:0", "ENGAGED_TRUSTED_PROXIES", "127.0.0.1")
	s := startService(t, e)
	tn := newTenant(t, e)
	ids := []string{tn.render}
	for len(ids) < renders {
		ids = append(ids, adminJSON(t, e, "render", "create", "--project", tn.project)["id"].(string))
	}

	type arrival struct {
		at      time.Time
		subject string
		total   int64
	}
	arrivals := make(chan arrival, 4096)
	m := natsRE.FindStringSubmatch(s.log.String())
	nc, err := nats.Connect(m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.Subscribe("engaged.updates."+tn.project+".>", func(msg *nats.Msg) {
		at := time.Now()
		// The total is all the measurement needs; find it without decoding
		// the whole summary.
		i := strings.LastIndex(string(msg.Data), `"total":`)
		total, _ := strconv.ParseInt(strings.SplitN(string(msg.Data[i+8:]), ",", 2)[0], 10, 64)
		arrivals <- arrival{at, msg.Subject, total}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()

	want := map[string]int64{}
	visible := make([]time.Duration, 0, n)  // POST sent -> update received
	acked := make([]time.Duration, 0, n)    // POST sent -> response received
	afterAck := make([]time.Duration, 0, n) // response received -> update received (negative: update first)
	beforeAck := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		id := ids[i%renders]
		time.Sleep(time.Until(start.Add(time.Duration(i) * pace)))
		t0 := time.Now()
		r := do(t, "POST", s.base+"/v1/renders/"+id+"/events", tn.key, `{"eventType":"viewed"}`,
			"X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		tAck := time.Now()
		if r.status != 200 {
			t.Fatalf("post %d: %d %s", i, r.status, r.body)
		}
		want[id]++
		subject := "engaged.updates." + tn.project + "." + id
		for {
			var a arrival
			select {
			case a = <-arrivals:
			case <-time.After(10 * time.Second):
				t.Fatalf("post %d: no update", i)
			}
			if a.subject != subject || a.total != want[id] {
				continue // an earlier trailing update; not this event's
			}
			visible = append(visible, a.at.Sub(t0))
			acked = append(acked, tAck.Sub(t0))
			afterAck = append(afterAck, a.at.Sub(tAck))
			if a.at.Before(tAck) {
				beforeAck++
			}
			break
		}
	}
	slices.Sort(visible)
	slices.Sort(acked)
	slices.Sort(afterAck)
	q := func(d []time.Duration, p float64) time.Duration { return d[int(p*float64(len(d)-1)+0.5)] }
	t.Logf("%d events over %d renders, %s apart, update interval 100ms (default)", n, renders, pace)
	t.Logf("POST sent -> NATS update received: p50 %s  p90 %s  p99 %s  max %s",
		q(visible, .5), q(visible, .9), q(visible, .99), visible[len(visible)-1])
	t.Logf("POST sent -> HTTP response:        p50 %s  p90 %s  p99 %s  max %s",
		q(acked, .5), q(acked, .9), q(acked, .99), acked[len(acked)-1])
	t.Logf("HTTP response -> NATS update:      p50 %s  p90 %s  p99 %s  max %s (negative: the update came first)",
		q(afterAck, .5), q(afterAck, .9), q(afterAck, .99), afterAck[len(afterAck)-1])
	t.Logf("update arrived before the HTTP response in %.0f%% of events", 100*float64(beforeAck)/float64(n))
}
