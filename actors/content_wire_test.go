package actors_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
	"github.com/engagedhq/engaged/transport/wire"
)

// The SDK events of testdata arrive as the edge sends them, so this test
// parses them with transport/wire, which imports actors: hence a package of
// its own (see export_test.go).

type videoFile struct {
	ReceivedAt time.Time         `json:"receivedAt"`
	Events     []json.RawMessage `json:"events"`
}

// The aggregates of testdata/video_events.json must equal the figures
// computed by hand in testdata/video_expected.json.
func TestContentAggregatesFromTestdata(t *testing.T) {
	var in videoFile
	readJSON(t, "testdata/video_events.json", &in)
	var want map[string]any
	readJSON(t, "testdata/video_expected.json", &want)
	delete(want, "_comment")

	states := map[string]actors.ContentState{}
	var verdicts []bool
	for i, raw := range in.Events {
		p := wire.ParseContentEvent(raw, wire.ParseOptions{ReceivedAt: in.ReceivedAt})
		if p.Err != nil {
			t.Fatalf("event %d rejected: %v %+v", i, p.Err, p.Err.Issues)
		}
		counted := false
		for _, r := range p.Records() {
			if _, ok := states[r.Item]; !ok {
				states[r.Item] = actors.NewContentState()
			}
			counted = states[r.Item].Apply(r.Event) || counted
		}
		verdicts = append(verdicts, counted)
	}
	for i, v := range verdicts {
		if v != (i != 23) {
			t.Errorf("event %d counted = %v (only event 23, a repeated e04, is a duplicate)", i, v)
		}
	}
	for item, w := range want {
		b, _ := json.Marshal(states[item].Summary(item))
		var got any
		_ = json.Unmarshal(b, &got)
		if diff := jsonDiff("", w, got); diff != "" {
			t.Errorf("%s: %s\n got %s", item, diff, b)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// jsonDiff compares decoded JSON values; numbers agree to 1e-12 relative.
func jsonDiff(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, want an object", path, got)
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		for k := range keys {
			if d := jsonDiff(path+"."+k, w[k], g[k]); d != "" {
				return d
			}
		}
		return ""
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > 1e-12*math.Max(1, math.Abs(w)) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, w)
		}
		return ""
	default:
		if !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
		return ""
	}
}
