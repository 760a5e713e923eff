package uniques

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// splitmix64 stands in for the keyed hashes callers insert: uniform 64-bit
// words, a different stream per seed.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func keys(seed uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = splitmix64(seed<<40 ^ uint64(i))
	}
	return out
}

func sketchOf(ks ...[]uint64) *Sketch {
	s := &Sketch{}
	for _, k := range ks {
		for _, x := range k {
			s.Insert(x)
		}
	}
	return s
}

func enc(t testing.TB, s *Sketch) []byte {
	t.Helper()
	b, err := s.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExactUpToLimit(t *testing.T) {
	s := &Sketch{}
	ks := keys(1, ExactLimit+1)
	for i, k := range ks[:ExactLimit] {
		if !s.Insert(k) {
			t.Fatalf("insert %d: no change", i)
		}
		if s.Insert(k) {
			t.Fatalf("insert %d again: changed", i)
		}
		if got := s.Count(); got != uint64(i+1) || s.Approximate() {
			t.Fatalf("after %d keys: count %d approximate %v", i+1, got, s.Approximate())
		}
	}
	s.Insert(ks[ExactLimit])
	if !s.Approximate() {
		t.Fatal("past ExactLimit: still exact")
	}
	if got := s.Count(); math.Abs(float64(got)-float64(ExactLimit+1)) > 0.05*ExactLimit {
		t.Fatalf("just past the limit: estimate %d for %d", got, ExactLimit+1)
	}
}

func TestOrderAndDuplicatesDoNotChangeEncoding(t *testing.T) {
	for _, n := range []int{0, 1, 10, ExactLimit, ExactLimit + 1, 5000} {
		ks := keys(7, n)
		want := enc(t, sketchOf(ks))
		shuffled := append([]uint64(nil), ks...)
		rand.New(rand.NewPCG(uint64(n), 3)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := enc(t, sketchOf(shuffled, ks[:n/2])); !bytes.Equal(got, want) {
			t.Errorf("n=%d: shuffled insert with duplicates encodes differently", n)
		}
	}
}

func TestReadsDoNotChangeState(t *testing.T) {
	for _, n := range []int{3, 3000} {
		s := sketchOf(keys(2, n))
		before := enc(t, s)
		_, _, _ = s.Count(), s.Approximate(), s.Size()
		_ = Merge(s, sketchOf(keys(9, n)))
		_ = s.Clone()
		if !bytes.Equal(enc(t, s), before) {
			t.Fatalf("n=%d: a read changed the encoding", n)
		}
	}
}

// Merge(a, b) must encode exactly as the sketch of the union, for every pair
// of modes, with overlapping key sets.
func TestMergeIsUnion(t *testing.T) {
	cases := []struct {
		name   string
		na, nb int
	}{
		{"empty+empty", 0, 0},
		{"exact+exact", 100, 200},
		{"exact+exact crossing the limit", 300, 300},
		{"exact+exact at the limit", ExactLimit, ExactLimit},
		{"exact+approx", 50, 4000},
		{"approx+exact", 4000, 50},
		{"approx+approx", 20000, 30000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			all := keys(11, c.na+c.nb)
			// a and b share a third of the smaller side.
			overlap := min(c.na, c.nb) / 3
			a := all[:c.na]
			b := append(append([]uint64(nil), all[c.na:]...), a[:overlap]...)
			b = b[:c.nb]
			sa, sb := sketchOf(a), sketchOf(b)
			ea, eb := enc(t, sa), enc(t, sb)
			union := enc(t, sketchOf(a, b))
			if got := enc(t, Merge(sa, sb)); !bytes.Equal(got, union) {
				t.Errorf("Merge(a, b) is not the sketch of the union")
			}
			if got := enc(t, Merge(sb, sa)); !bytes.Equal(got, union) {
				t.Errorf("Merge(b, a) is not the sketch of the union")
			}
			if !bytes.Equal(enc(t, sa), ea) || !bytes.Equal(enc(t, sb), eb) {
				t.Errorf("Merge changed an input")
			}
		})
	}
}

// The estimate's RMS relative error must be at most 2 % at 10^4, 10^5 and
// 10^6 distinct keys. Seeds are fixed, so the test is repeatable; the error
// of each size is logged (go test -v -run RMS).
func TestRMSError(t *testing.T) {
	sizes := []struct{ n, seeds int }{{10_000, 400}, {100_000, 100}, {1_000_000, 40}}
	if testing.Short() {
		sizes = []struct{ n, seeds int }{{10_000, 50}, {100_000, 10}, {1_000_000, 3}}
	}
	for _, sz := range sizes {
		var sum, worst float64
		for seed := range sz.seeds {
			s := &Sketch{}
			base := uint64(seed+1) << 40
			for i := range sz.n {
				s.Insert(splitmix64(base ^ uint64(i)))
			}
			rel := (float64(s.Count()) - float64(sz.n)) / float64(sz.n)
			sum += rel * rel
			worst = max(worst, math.Abs(rel))
		}
		rms := math.Sqrt(sum / float64(sz.seeds))
		t.Logf("n=%d seeds=%d: RMS relative error %.3f %%, worst %.3f %%", sz.n, sz.seeds, 100*rms, 100*worst)
		if rms > 0.02 {
			t.Errorf("n=%d: RMS relative error %.3f %% > 2 %%", sz.n, 100*rms)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 499, 500, 501, 100_000} {
		s := sketchOf(keys(5, n))
		b := enc(t, s)
		b = append(b, 0xAA) // a following field stays for the caller
		got, rest, err := Decode(b)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !bytes.Equal(rest, []byte{0xAA}) {
			t.Fatalf("n=%d: rest %x", n, rest)
		}
		if !bytes.Equal(enc(t, got), b[:len(b)-1]) || got.Count() != s.Count() || got.Approximate() != s.Approximate() {
			t.Fatalf("n=%d: decoded sketch differs", n)
		}
		// A decoded dense sketch keeps counting as the original does.
		extra := keys(6, 1000)
		if !bytes.Equal(enc(t, sketchOf(extra)), enc(t, sketchOf(extra))) {
			t.Fatal("not deterministic")
		}
		for _, k := range extra {
			got.Insert(k)
			s.Insert(k)
		}
		if !bytes.Equal(enc(t, got), enc(t, s)) {
			t.Fatalf("n=%d: decoded sketch diverges after inserts", n)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	dense := enc(t, sketchOf(keys(1, 2000)))
	badRank := append([]byte(nil), dense...)
	badRank[3] = 0x3f // register 0 = 63 > 53
	zero := append([]byte{version, denseK, p}, make([]byte, regSize)...)
	cases := map[string][]byte{
		"empty":          nil,
		"version":        {2, exactK, 0},
		"kind":           {version, 9, 0},
		"count too big":  append([]byte{version, exactK}, 0xf5, 0x03), // 501
		"truncated keys": {version, exactK, 2, 0, 0, 0, 0, 0, 0, 0, 1},
		"unsorted keys":  {version, exactK, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1},
		"duplicate keys": {version, exactK, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2},
		"wrong p":        append([]byte{version, denseK, 14}, dense[3:]...),
		"short dense":    dense[:100],
		"rank past max":  badRank,
		"all-zero dense": zero,
	}
	for name, b := range cases {
		if _, _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, n := range []int{0, 1, 3, 600} {
		b, _ := sketchOf(keys(4, n)).AppendBinary(nil)
		f.Add(b)
	}
	f.Add([]byte{version, exactK, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, rest, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes is canonical: it re-encodes to the bytes it came from.
		got, _ := s.AppendBinary(nil)
		if !bytes.Equal(got, b[:len(b)-len(rest)]) {
			t.Fatalf("re-encoding differs")
		}
		s.Insert(1)
		_ = s.Count()
	})
}

func TestVisitorID(t *testing.T) {
	salt := bytes.Repeat([]byte{1}, 32)
	other := bytes.Repeat([]byte{2}, 32)
	a := VisitorID(salt, "p", "192.0.2.1", "UA")
	if a != VisitorID(salt, "p", "192.0.2.1", "UA") {
		t.Fatal("not deterministic")
	}
	for name, b := range map[string]uint64{
		"salt":       VisitorID(other, "p", "192.0.2.1", "UA"),
		"project":    VisitorID(salt, "q", "192.0.2.1", "UA"),
		"ip":         VisitorID(salt, "p", "192.0.2.2", "UA"),
		"user agent": VisitorID(salt, "p", "192.0.2.1", "UB"),
		"framing":    VisitorID(salt, "p1", "92.0.2.1", "UA"),
	} {
		if a == b {
			t.Errorf("another %s gives the same id", name)
		}
	}
	if Hash("ab", "c") == Hash("a", "bc") {
		t.Error("Hash parts are not framed")
	}
}

func TestSize(t *testing.T) {
	for _, n := range []int{10, ExactLimit, 1_000_000} {
		s := sketchOf(keys(8, n))
		b := enc(t, s)
		t.Logf("n=%d: encoded %d bytes, in memory %d bytes", n, len(b), s.Size())
		if s.Approximate() && (len(b) > 4096 || s.Size() > 4096) {
			t.Errorf("n=%d: approximate sketch over 4 KiB", n)
		}
	}
}

var sink uint64

func BenchmarkInsertExact(b *testing.B) {
	ks := keys(1, 10)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s := Sketch{}
		for _, k := range ks {
			s.Insert(k)
		}
		sink += s.Count()
	}
}

func BenchmarkInsertDense(b *testing.B) {
	s := sketchOf(keys(1, 10_000))
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		i++
		s.Insert(splitmix64(i))
	}
	sink += s.Count()
}

func BenchmarkCountDense(b *testing.B) {
	s := sketchOf(keys(1, 100_000))
	for b.Loop() {
		sink += s.Count()
	}
}

func BenchmarkVisitorID(b *testing.B) {
	salt := bytes.Repeat([]byte{1}, 32)
	for b.Loop() {
		sink += VisitorID(salt, "0191e0c5-7e6a-7c4e-9f3a-2b1d4c5e6f70", "203.0.113.77", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")
	}
}
