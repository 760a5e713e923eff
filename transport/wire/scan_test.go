package wire

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// The walker must agree with encoding/json on every valid object and array,
// and never panic on anything else.
func FuzzEachMember(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, ` { "a" : [1, {"b":"}"}], "c\"d" : "x\\"y", "e":null , "a":true } `,
		`[1,"2",{"3":[4]},[],{}]`, `{"k\u00e9y":{"x":[]}}`, `{"a":1,}`, `{"a"}`, `[`, `{"a":"`, `"s"`, `{"a":-1.5e3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var keys []string
		var vals [][]byte
		errObj := eachMember(b, func(k, v []byte) { keys = append(keys, string(k)); vals = append(vals, v) })
		var elems [][]byte
		errArr := eachElement(b, func(v []byte) { elems = append(elems, v) })
		if !json.Valid(b) || !utf8.Valid(b) {
			// Only: no panic. (encoding/json turns invalid UTF-8 into U+FFFD;
			// such a key never matches a field name either way.)
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) == nil && m != nil {
			if errObj != nil {
				t.Fatalf("valid object %q: %v", b, errObj)
			}
			last := map[string][]byte{}
			for i, k := range keys {
				last[k] = vals[i]
			}
			if len(last) != len(m) {
				t.Fatalf("%q: %d distinct keys, encoding/json %d", b, len(last), len(m))
			}
			for k, v := range m {
				if !bytes.Equal(bytes.TrimSpace(v), last[k]) {
					t.Fatalf("%q: key %q = %q, encoding/json %q", b, k, last[k], v)
				}
			}
		}
		var a []json.RawMessage
		if json.Unmarshal(b, &a) == nil && a != nil {
			if errArr != nil || len(elems) != len(a) {
				t.Fatalf("valid array %q: %d elements, %v; encoding/json %d", b, len(elems), errArr, len(a))
			}
			for i := range a {
				if !bytes.Equal(bytes.TrimSpace(a[i]), elems[i]) {
					t.Fatalf("%q: element %d = %q, encoding/json %q", b, i, elems[i], a[i])
				}
			}
		}
	})
}
