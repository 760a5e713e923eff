package wire

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// String must decode every JSON string as encoding/json does, fast path
// included (invalid UTF-8 becomes U+FFFD either way); other values are
// type errors, which the decoders word with Expected.
func FuzzStringMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`"plain"`, `"esc\"aped"`, `"\u00e9t\u00e9"`, `"été"`, "\"\xff\xfe\"", `""`, `1`, `null`, `{"a":"b"}`, `"tab\there"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) || Kind(b) != "string" {
			return
		}
		got, err := String(b)
		var want string
		wantErr := json.Unmarshal(b, &want)
		if (err == nil) != (wantErr == nil) || got != want {
			t.Fatalf("%q: String = %q, %v; encoding/json %q, %v", b, got, err, want, wantErr)
		}
	})
}

func TestExpected(t *testing.T) {
	for raw, want := range map[string]string{
		`"s"`: "Expected object, received string", `1.5`: "Expected object, received number", `true`: "Expected object, received boolean",
		`null`: "Expected object, received null", `[]`: "Expected object, received array", ` {}`: "Expected object, received object", ``: "Expected object, received undefined",
	} {
		if got := Expected("object", []byte(raw)); got != want {
			t.Errorf("%q: %q, want %q", raw, got, want)
		}
	}
}

// Invalid UTF-8 in a bag becomes one U+FFFD per invalid byte, exactly what
// encoding/json makes of it when decoding a string, and the result is valid
// JSON; valid input is returned as is.
func TestValidUTF8(t *testing.T) {
	for _, in := range []string{
		`{"a":"ok"}`, "{\"a\":\"bad \xff\xfe\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"\xc3\":\"x\xe2\x82\"}", `{"a":"é ✓ 😀"}`,
	} {
		got := ValidUTF8([]byte(in))
		if !utf8.Valid(got) || !json.Valid(got) {
			t.Fatalf("%q → %q: not valid UTF-8 JSON", in, got)
		}
		var viaJSON, viaOut map[string]string
		if err := json.Unmarshal([]byte(in), &viaJSON); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &viaOut); err != nil || !reflect.DeepEqual(viaJSON, viaOut) {
			t.Fatalf("%q → %q decodes to %q, encoding/json makes %q", in, got, viaOut, viaJSON)
		}
		if utf8.ValidString(in) && string(got) != in {
			t.Fatalf("valid %q changed to %q", in, got)
		}
	}
}
