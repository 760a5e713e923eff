package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/engagedhq/engaged/actors"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Fiber's fasthttp keeps a process-wide date updater.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.init.func1"),
	)
}

// fakeDir knows one secret key, of project p1, and every render.
type fakeDir struct{}

func (fakeDir) Authenticate(_ context.Context, secret string) (actors.Principal, error) {
	if secret != "sk_test" {
		return actors.Principal{}, actors.Errorf(actors.EUnauthorized, "unknown key")
	}
	return actors.Principal{KeyID: "k1", ProjectID: "p1", Kind: actors.SecretKey}, nil
}

func (fakeDir) GetItem(_ context.Context, projectID, id, kind string) (actors.Item, error) {
	return actors.Item{ID: id, ProjectID: projectID, Kind: kind}, nil
}

func (fakeDir) ItemKeys(context.Context, time.Time, func(kind, projectID, id string) error) (time.Time, error) {
	return time.Now(), nil
}

func (fakeDir) AutoCreateContent(context.Context, string, string, int) (actors.Item, error) {
	return actors.Item{}, actors.Errorf(actors.ENotFound, "not found")
}

func (fakeDir) CreateContent(context.Context, string, string) (actors.Item, error) {
	return actors.Item{}, errors.New("not in this test")
}

// fakeEngine answers Submit with submit and records what it was given; the
// other methods are not used here (the nil Engine panics if they are).
type fakeEngine struct {
	Engine
	submit func(*actors.Submission) error
	subs   []*actors.Submission
}

func (e *fakeEngine) Submit(_ context.Context, subs ...*actors.Submission) error {
	e.subs = append(e.subs, subs...)
	return e.submit(subs[0])
}

// The render event route needs only its ports: no JetStream, no Postgres.
func TestPostRenderEvent(t *testing.T) {
	const render = "0193c2c3-0000-7000-8000-000000000001"
	counted := func(s *actors.Submission) error { s.Counted = []bool{true}; return nil }
	for _, tc := range []struct {
		name       string
		body       string
		submit     func(*actors.Submission) error
		status     int
		code       actors.Code // of the error envelope, if any
		submitted  int
		retryAfter string
	}{
		{"recorded", `{"eventType":"viewed","metadata":{"page":2}}`, counted, 200, "", 1, ""},
		{"bad body", `{"eventType":"opened"}`, counted, 400, actors.EInvalid, 0, ""},
		{"log unavailable", `{"eventType":"viewed"}`, func(*actors.Submission) error {
			return &actors.Error{Code: actors.EUnavailable, Message: "event log is overloaded", RetryAfter: time.Second}
		}, 503, actors.EUnavailable, 1, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := &fakeEngine{submit: tc.submit}
			s := NewServer(Options{MaxBodyBytes: 1 << 16, MaxMetadataBytes: 1024, RequestTimeout: 5 * time.Second}, fakeDir{}, eng)
			t.Cleanup(func() {
				if err := s.Shutdown(context.Background()); err != nil {
					t.Error(err)
				}
			})
			req := httptest.NewRequest("POST", "/v1/renders/"+render+"/events", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer sk_test")
			req.Header.Set("Content-Type", "application/json")
			resp, err := s.app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || len(eng.subs) != tc.submitted || resp.Header.Get("Retry-After") != tc.retryAfter {
				t.Fatalf("status %d, %d submitted, Retry-After %q: %s", resp.StatusCode, len(eng.subs), resp.Header.Get("Retry-After"), b)
			}
			if tc.code == "" {
				sub := eng.subs[0]
				if string(b) != `{"recorded":true}` || sub.Key != (actors.ItemID{Project: "p1", Item: render}) ||
					sub.MsgID != sub.Msg.Render[0].ID || sub.Msg.Render[0].ActorKind != actors.Partner {
					t.Fatalf("answer %s for submission %+v", b, sub)
				}
				return
			}
			var env struct{ Error errorBody }
			if err := json.Unmarshal(b, &env); err != nil || env.Error.Code != tc.code {
				t.Fatalf("error envelope %s", b)
			}
			if tc.code == actors.EInvalid && len(env.Error.Issues.FieldErrors["eventType"]) == 0 {
				t.Fatalf("no field error for eventType: %s", b)
			}
		})
	}
}
