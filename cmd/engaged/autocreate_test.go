package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// autoCreateBatch sends one like per content id and returns each
// event's status, or status:code for a rejected one.
func (s *service) autoCreateBatch(t *testing.T, key string, contentIDs ...string) []string {
	t.Helper()
	var evs []string
	for _, id := range contentIDs {
		evs = append(evs, `{"event":"like","contentId":"`+id+`"}`)
	}
	b := s.batch(t, key, `{"events":[`+strings.Join(evs, ",")+`]}`)
	var out []string
	for _, r := range b.Data.Results {
		st := r.Status
		if r.Error != nil {
			st += ":" + r.Error.Code
		}
		out = append(out, st)
	}
	return out
}

// autoCreateProject makes a project through the admin API, with body's
// settings, and returns it with a publishable and a secret key.
func (s *service) autoCreateProject(t *testing.T, body string) (project, pk, sk string) {
	t.Helper()
	p := s.adminOK(t, 201, "POST", "/projects", body)
	project = p["id"].(string)
	pk = s.adminOK(t, 201, "POST", "/projects/"+project+"/keys", `{"kind":"publishable"}`)["key"].(string)
	sk = s.adminOK(t, 201, "POST", "/projects/"+project+"/keys", `{"kind":"secret"}`)["key"].(string)
	return project, pk, sk
}

// autoCreateOf reads the project's setting from the admin project list.
func (s *service) autoCreateOf(t *testing.T, project string) any {
	t.Helper()
	for _, p := range s.adminOK(t, 200, "GET", "/projects?limit=1000", "")["projects"].([]any) {
		if m := p.(map[string]any); m["id"] == project {
			return m["autoCreateContent"]
		}
	}
	t.Fatalf("project %s not listed", project)
	return nil
}

// An SDK event about an unregistered content id: rejected while the
// project's autoCreateContent is off (as before it existed); registered and
// counted once it is on; past the creation rate rejected with rate_limited
// and past the item cap with content_limit, event by event, the other
// events of the batch unaffected. The rate's bucket holds 3 tokens and
// refills once an hour, so the test does not depend on the clock.
func TestAutoCreateContent(t *testing.T) {
	e := newEnv(t).with("ENGAGED_ADMIN_TOKEN", testAdminToken,
		"ENGAGED_AUTOCREATE_MAX_ITEMS", "6", "ENGAGED_AUTOCREATE_RATE", "3/1h")
	s := startService(t, e)

	p, pk, sk := s.autoCreateProject(t, `{"name":"shorts"}`)
	if got := s.autoCreateOf(t, p); got != false {
		t.Fatalf("a new project's autoCreateContent: %v, want false", got)
	}
	s.adminOK(t, 201, "POST", "/projects/"+p+"/contents", `{"id":"cnt_known"}`)

	// Off: rejected as an unknown content id; the known one is counted.
	if got := s.autoCreateBatch(t, pk, "cnt_known", "cnt_new1"); !slices.Equal(got, []string{"accepted", "rejected:invalid_request"}) {
		t.Fatalf("off: %v", got)
	}

	// On, through the admin route; keys see it within their second of cache.
	if r := s.adminOK(t, 200, "PUT", "/projects/"+p+"/auto-create-content", `{"autoCreateContent":true}`); r["autoCreateContent"] != true || r["id"] != p {
		t.Fatalf("PUT auto-create-content: %v", r)
	}
	if got := s.autoCreateOf(t, p); got != true {
		t.Fatalf("listed autoCreateContent: %v, want true", got)
	}
	eventually(t, 10*time.Second, func() error {
		if got := s.autoCreateBatch(t, pk, "cnt_new1"); got[0] != "accepted" {
			return fmt.Errorf("cnt_new1 after turning autoCreateContent on: %v", got)
		}
		return nil
	})
	// Two more creations use up the bucket; the fourth id of the project is
	// refused for the rate, and the known item's event beside it counts.
	got := s.autoCreateBatch(t, pk, "cnt_known", "cnt_new2", "cnt_new3", "cnt_new4", "cnt_new2")
	if want := []string{"accepted", "accepted", "accepted", "rejected:rate_limited", "accepted"}; !slices.Equal(got, want) {
		t.Fatalf("on, past the rate: %v, want %v", got, want)
	}
	// POST /v1/events: the rejection is the request's, 429 with Retry-After.
	r := s.event(t, pk, `{"event":"like","contentId":"cnt_new4"}`)
	if r.status != 429 || r.errorCode(t) != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("single event past the rate: %d %s", r.status, r.body)
	}
	// Created items are registered items: listed, read, counted.
	var listed []string
	for _, c := range s.adminOK(t, 200, "GET", "/projects/"+p+"/contents", "")["contents"].([]any) {
		listed = append(listed, c.(map[string]any)["id"].(string))
	}
	if want := []string{"cnt_known", "cnt_new1", "cnt_new2", "cnt_new3"}; !slices.Equal(listed, want) {
		t.Fatalf("contents %v, want %v", listed, want)
	}
	eventually(t, 10*time.Second, func() error {
		if n := s.content(t, sk, "cnt_new2")["likes"]; n != 2.0 {
			return fmt.Errorf("cnt_new2 likes %v, want 2", n)
		}
		return nil
	})

	// The cap: a project created with the setting on, holding 6 items (the
	// cap) registered by the operator, creates none; its known item counts.
	q, qpk, _ := s.autoCreateProject(t, `{"name":"capped","autoCreateContent":true}`)
	if got := s.autoCreateOf(t, q); got != true {
		t.Fatalf("created with autoCreateContent: listed %v", got)
	}
	for i := range 5 {
		s.adminOK(t, 201, "POST", "/projects/"+q+"/contents", fmt.Sprintf(`{"id":"cnt_%d"}`, i))
	}
	s.adminOK(t, 201, "POST", "/projects/"+q+"/renders", `{}`)
	if got := s.autoCreateBatch(t, qpk, "cnt_0", "cnt_over"); !slices.Equal(got, []string{"accepted", "rejected:content_limit"}) {
		t.Fatalf("at the cap: %v", got)
	}
	if r := s.event(t, qpk, `{"event":"like","contentId":"cnt_over"}`); r.status != 403 || r.errorCode(t) != "content_limit" {
		t.Fatalf("single event at the cap: %d %s", r.status, r.body)
	}

	// Off again: unknown ids are rejected as before.
	s.adminOK(t, 200, "PUT", "/projects/"+p+"/auto-create-content", `{"autoCreateContent":false}`)
	eventually(t, 10*time.Second, func() error {
		if got := s.autoCreateBatch(t, pk, "cnt_new9"); got[0] != "rejected:invalid_request" {
			return fmt.Errorf("after turning it off: %v", got)
		}
		return nil
	})
	// A bad setting is the documented 400; an unknown project a 404.
	if r := s.adminDo(t, "PUT", "/projects/"+p+"/auto-create-content", `{"autoCreateContent":"yes"}`); r.status != 400 || r.errorCode(t) != "invalid_request" {
		t.Fatalf("autoCreateContent yes: %d %s", r.status, r.body)
	}
	if r := s.adminDo(t, "PUT", "/projects/01939c2c-0000-7000-8000-000000000001/auto-create-content", `{"autoCreateContent":true}`); r.status != 404 {
		t.Fatalf("unknown project: %d %s", r.status, r.body)
	}
}
