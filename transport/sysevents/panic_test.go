package sysevents

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/engagedhq/engaged/actors"
)

type panickyRenders struct{}

func (panickyRenders) ActiveRender(context.Context, string, string) (actors.Item, error) {
	panic("test: renders")
}

// A message whose handling panics is contained: the worker goes on, and the
// panic is counted (as a failed message too).
func TestHandlePanicContained(t *testing.T) {
	se := New(Options{MaxBytes: 1 << 20, MaxMetadataBytes: 8192, Timeout: time.Second}, panickyRenders{}, nil)
	m := &nats.Msg{Data: []byte(`{"id":"0193c2d0-0000-7000-8000-000000000001","projectId":"0193c2d0-0000-7000-8000-000000000002",` +
		`"renderId":"0193c2d0-0000-7000-8000-000000000003","eventType":"email_sent"}`)}
	se.handle(m)
	se.handle(m)
	if _, _, _, failed := se.Counts(); se.Panics() != 2 || failed != 2 {
		t.Fatalf("Panics() = %d, failed = %d, want 2 and 2", se.Panics(), failed)
	}
}
