package wire

import (
	"slices"
	"strings"
	"testing"

	"github.com/engagedhq/engaged/actors"
)

// seenBody is a seen query of n ids as a feed sends it.
func seenBody(n int, sep string) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = `"cnt_` + strings.Repeat("a", i%60) + `"`
	}
	return `{"contentIds":[` + strings.Join(ids, ","+sep) + `]}`
}

// The one-pass decoder of the common body answers exactly what the full
// decoder answers, or leaves the body to it: never another list, never an
// error the full decoder would not give.
func FuzzSeenQuery(f *testing.F) {
	for _, s := range []string{
		seenBody(1, ""), seenBody(3, " "), seenBody(actors.MaxSeenQuery, "\n"), seenBody(actors.MaxSeenQuery+1, ""),
		` { "contentIds" : [ "a" , "b" ] } `, "{\"contentIds\":[\"a\"]}\t\r\n",
		`{"contentIds":[]}`, `{"contentIds":["a",]}`, `{"contentIds":["a"]`, `{"contentIds":["a"]}x`,
		`{"contentIds":["a\u0062"]}`, `{"contentIds":["a.b"]}`, `{"contentIds":["é"]}`, `{"contentIds":[1]}`,
		`{"contentIds":["` + strings.Repeat("a", actors.MaxIDLen) + `"]}`, `{"contentIds":["` + strings.Repeat("a", actors.MaxIDLen+1) + `"]}`,
		`{"contentIds":["a"],"other":1}`, `{"contentIds":["a"],"contentIds":["b"]}`, `{"contentids":["a"]}`,
		`{"contentIds":null}`, `{}`, `[]`, ``, `{"contentIds":[""]}`, `{"contentIds":["a" "b"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := plainSeenQuery(nil, b)
		if !ok {
			return
		}
		ids, err := decodeSeenQuery(b)
		if err != nil {
			t.Fatalf("%q: the one-pass decoder took %x, the full one refused it: %v", b, fast, err)
		}
		full := make([]uint64, len(ids))
		for i, id := range ids {
			full[i] = actors.ContentHash(id)
		}
		if !slices.Equal(fast, full) {
			t.Fatalf("%q: one-pass %x, full %x (of %q)", b, fast, full, ids)
		}
	})
}

// The body a feed sends takes the one pass (else the profile's 40 % comes
// back unnoticed), and what it leaves goes to the full decoder.
func TestSeenQueryTakesOnePass(t *testing.T) {
	for _, s := range []string{seenBody(actors.MaxSeenQuery, ""), seenBody(2, " "), ` {"contentIds": ["a"]}` + "\n"} {
		if _, ok := plainSeenQuery(nil, []byte(s)); !ok {
			t.Errorf("%.60q… does not take the one pass", s)
		}
	}
	for _, s := range []string{seenBody(actors.MaxSeenQuery+1, ""), `{"contentIds":[]}`, `{"contentIds":["a\u0062"]}`, `{"contentIds":["a"],"x":1}`} {
		if _, ok := plainSeenQuery(nil, []byte(s)); ok {
			t.Errorf("%.60q… takes the one pass", s)
		}
		if _, err := DecodeSeenQuery(nil, []byte(s)); err == nil && !strings.Contains(s, `\u0062`) {
			t.Errorf("%.60q… accepted", s)
		}
	}
	// dst's contents are not kept: the hashes replace them.
	hashes, err := DecodeSeenQuery([]uint64{1, 2, 3}, []byte(`{"contentIds":["a\u0062"]}`))
	if err != nil || !slices.Equal(hashes, []uint64{actors.ContentHash("ab")}) {
		t.Errorf("escaped id: %x %v", hashes, err)
	}
}

func BenchmarkSeenQuery(b *testing.B) {
	var reused []uint64
	body := []byte(seenBody(actors.MaxSeenQuery, ""))
	for _, c := range []struct {
		name string
		fn   func([]byte) ([]string, error)
	}{{"full", decodeSeenQuery}, {"onePass", func(b []byte) ([]string, error) { _, err := DecodeSeenQuery(nil, b); return nil, err }},
		{"onePassReused", func(b []byte) ([]string, error) { // as the handler does
			var err error
			reused, err = DecodeSeenQuery(reused, b)
			return nil, err
		}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := c.fn(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
