package main

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/engagedhq/engaged/transport/httpapi"
)

// The contract check: every request the end-to-end tests make through do
// (and the Go client's transport in the tests that use it) is validated, with
// its response, against the OpenAPI document the binary serves at
// /openapi.json. A field, status or route that drifts from the document
// fails the test that saw it.

var contract struct {
	once sync.Once
	v    validator.Validator
	err  error
}

// contractValidator builds the validator once per test binary: compiling
// the document's schemas is the expensive part.
func contractValidator() (validator.Validator, error) {
	contract.once.Do(func() {
		doc, err := libopenapi.NewDocument(httpapi.OpenAPI)
		if err != nil {
			contract.err = fmt.Errorf("openapi.json: %w", err)
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			contract.err = fmt.Errorf("openapi.json: %v", errs)
			return
		}
		contract.v = v
	})
	return contract.v, contract.err
}

// checkContract validates one exchange. reqBody is the body as sent (it is
// decompressed here when Content-Encoding says so, as the server does);
// resBody is the response body as read.
//
// The rules, in order:
//   - A route or method that is not in the document must be refused as
//     unknown (404 or 405 in the error envelope; 401 for /v1 paths, whose
//     authentication runs before routing; 403 for an OPTIONS preflight of a
//     /v1 route that is closed to other origins): a real route missing from
//     the document therefore fails.
//   - A request that breaks the document may be sent on purpose, but it must
//     not be accepted: its response must be a 4xx.
//   - Every response must match the document for its route and status.
func checkContract(t testing.TB, req *http.Request, reqBody []byte, res *http.Response, resBody []byte) {
	t.Helper()
	if err := contractError(req, reqBody, res, resBody); err != nil {
		t.Errorf("contract (/openapi.json): %v", err)
	}
}

// operatorHosts are the test services' operator listeners (host:port):
// /metrics, /stats, pprof and the detailed /readyz are for operators, not
// part of the public contract, and their exchanges are not checked.
var operatorHosts sync.Map

// contractError is checkContract's work, for callers without a testing.TB.
func contractError(req *http.Request, reqBody []byte, res *http.Response, resBody []byte) error {
	if _, ok := operatorHosts.Load(req.URL.Host); ok {
		return nil
	}
	v, err := contractValidator()
	if err != nil {
		return err
	}
	r := req.Clone(req.Context())
	plain := reqBody
	switch strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))) {
	case "gzip", "x-gzip":
		if zr, err := gzip.NewReader(bytes.NewReader(reqBody)); err == nil {
			plain, _ = io.ReadAll(zr)
		}
	case "deflate":
		// Both forms the server reads: zlib-wrapped (RFC 9110) and raw.
		if zr, err := zlib.NewReader(bytes.NewReader(reqBody)); err == nil {
			if b, err := io.ReadAll(zr); err == nil {
				plain = b
				break
			}
		}
		plain, _ = io.ReadAll(flate.NewReader(bytes.NewReader(reqBody)))
	}
	r.Header.Del("Content-Encoding")
	r.Body = io.NopCloser(bytes.NewReader(plain))
	r.ContentLength = int64(len(plain))
	what := req.Method + " " + req.URL.RequestURI()

	ok, errs := v.ValidateHttpRequestSync(r)
	if !ok && unknownRoute(errs) {
		refused := res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusMethodNotAllowed ||
			(res.StatusCode == http.StatusUnauthorized && strings.HasPrefix(req.URL.Path, "/v1/")) ||
			// A preflight of a secret-key route: closed to other origins.
			(res.StatusCode == http.StatusForbidden && req.Method == http.MethodOptions && strings.HasPrefix(req.URL.Path, "/v1/"))
		if !refused {
			return fmt.Errorf("%s is not in the document, but the server answered %d", what, res.StatusCode)
		}
		return errorEnvelope(resBody)
	}
	if !ok && res.StatusCode < 400 {
		return fmt.Errorf("%s breaks the document (%s), but the server answered %d: %s", what, describe(errs), res.StatusCode, resBody)
	}
	if res.Request != nil && res.Request.URL.String() != req.URL.String() {
		// The client followed a redirect to another server (a render's
		// document URL); that response is not this API's.
		return nil
	}
	rs := *res
	rs.Body = io.NopCloser(bytes.NewReader(resBody))
	r.Body = io.NopCloser(bytes.NewReader(plain))
	if ok, errs := v.ValidateHttpResponse(r, &rs); !ok {
		return fmt.Errorf("%s → %d does not match the document: %s\nbody: %.2000s", what, res.StatusCode, describe(errs), resBody)
	}
	return nil
}

func unknownRoute(errs []*verrors.ValidationError) bool {
	for _, e := range errs {
		if e.ValidationType == helpers.PathValidation &&
			(e.ValidationSubType == helpers.ValidationMissing || e.ValidationSubType == helpers.ValidationMissingOperation) {
			return true
		}
	}
	return false
}

// errorEnvelope checks the documented error shape of a response to an
// unknown route, which has no operation in the document to validate it.
func errorEnvelope(b []byte) error {
	var env struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Meta *struct {
			RequestID string `json:"requestId"`
		} `json:"meta"`
	}
	if json.Unmarshal(b, &env) != nil || env.Error == nil || env.Error.Code == "" || env.Meta == nil ||
		!strings.HasPrefix(env.Meta.RequestID, "req_") {
		return fmt.Errorf("an unknown route was not answered with the error envelope: %s", b)
	}
	return nil
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			b.WriteString(": " + e.Reason)
		}
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, " [%s: %s]", f.FieldPath, f.Reason)
		}
	}
	return b.String()
}

// contractTransport validates every exchange made through it, for clients
// (the Go client) that the tests do not drive through do.
type contractTransport struct {
	t    testing.TB
	next http.RoundTripper
}

func (c contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	next := c.next
	if next == nil {
		next = http.DefaultTransport
	}
	res, err := next.RoundTrip(req)
	if err != nil {
		return res, err
	}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		// A stream's body is read as it comes; its status and headers
		// are all that can be checked here.
		rs := *res
		rs.Body = io.NopCloser(strings.NewReader(""))
		rs.Header = res.Header.Clone()
		rs.Header.Set("Content-Type", "text/event-stream")
		if err := contractError(req, reqBody, &rs, nil); err != nil {
			c.t.Errorf("contract (/openapi.json): %v", err)
		}
		return res, nil
	}
	resBody, rerr := io.ReadAll(res.Body)
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	if rerr == nil {
		if err := contractError(req, reqBody, res, resBody); err != nil {
			c.t.Errorf("contract (/openapi.json): %v", err)
		}
	}
	return res, rerr
}

// TestOpenAPIDocument lints the document with the validator's own check
// against the OpenAPI 3.1 schema, and checks that the server serves it.
func TestOpenAPIDocument(t *testing.T) {
	v, err := contractValidator()
	if err != nil {
		t.Fatal(err)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		t.Fatalf("openapi.json does not pass the OpenAPI 3.1 schema: %s", describe(errs))
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi.json: version %q, %v", doc.OpenAPI, err)
	}
	e := newEnv(t)
	s := startService(t, e)
	r := do(t, "GET", s.base+"/openapi.json", "", "")
	var served struct {
		Servers []struct{ URL string } `json:"servers"`
	}
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || json.Unmarshal(r.body, &served) != nil {
		t.Fatalf("GET /openapi.json: %d %s", r.status, r.header.Get("Content-Type"))
	}
	// The document as embedded, with the service's ENGAGED_PUBLIC_URL as
	// its one server.
	if len(served.Servers) != 1 || !strings.HasPrefix(served.Servers[0].URL, "http") {
		t.Fatalf("servers %+v", served.Servers)
	}
	if want, err := httpapi.OpenAPIFor(served.Servers[0].URL); err != nil || !bytes.Equal(r.body, want) {
		t.Fatalf("GET /openapi.json is not openapi.json with servers %s (%v)", served.Servers[0].URL, err)
	}
}

// Every request body and every JSON 2xx response of the document has an
// example, and each example validates against its schema: generated docs
// and clients show real bodies, and an example cannot drift from the
// schema beside it.
func TestOpenAPIExamples(t *testing.T) {
	doc, err := libopenapi.NewDocument(httpapi.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	sv := schema_validation.NewSchemaValidator()
	checked := 0
	check := func(what string, mt *v3.MediaType) {
		t.Helper()
		if mt.Example == nil {
			t.Errorf("%s has no example", what)
			return
		}
		var ex any
		if err := mt.Example.Decode(&ex); err != nil {
			t.Errorf("%s: example: %v", what, err)
			return
		}
		b, err := json.Marshal(ex)
		if err != nil {
			t.Errorf("%s: example is not JSON: %v", what, err)
			return
		}
		if mt.Schema == nil {
			t.Errorf("%s has no schema", what)
			return
		}
		checked++
		if ok, errs := sv.ValidateSchemaBytes(mt.Schema.Schema(), b); !ok {
			t.Errorf("%s: example does not match its schema: %s\n%s", what, describe(errs), b)
		}
	}
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Content.FromOldest() {
					check(fmt.Sprintf("%s %s request %s", method, path, ct), mt)
				}
			}
			for status, res := range op.Responses.Codes.FromOldest() {
				if !strings.HasPrefix(status, "2") || res.Content == nil {
					continue
				}
				for ct, mt := range res.Content.FromOldest() {
					if strings.Contains(ct, "json") {
						check(fmt.Sprintf("%s %s %s %s", method, path, status, ct), mt)
					}
				}
			}
		}
	}
	if checked < 40 {
		t.Errorf("only %d examples checked: the walk over the document missed some", checked)
	}
}

// The example check can fail: an example that breaks its schema is caught.
func TestOpenAPIExampleCheckRejects(t *testing.T) {
	model, err := libopenapi.NewDocument(httpapi.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	schema := m.Model.Components.Schemas.GetOrZero("Recorded").Schema()
	sv := schema_validation.NewSchemaValidator()
	if ok, _ := sv.ValidateSchemaBytes(schema, []byte(`{"recorded":"yes"}`)); ok {
		t.Fatal(`{"recorded":"yes"} passed as a Recorded`)
	}
	if ok, errs := sv.ValidateSchemaBytes(schema, []byte(`{"recorded":true}`)); !ok {
		t.Fatalf(`{"recorded":true} refused: %s`, describe(errs))
	}
}
