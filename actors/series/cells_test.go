package series

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// cells against a map, with values crossing the 32-bit boundary both ways
// (bigMark itself included): every key's value, the order, no zero cell,
// and big holding exactly the marked cells.
func TestCellsMatchModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	deltas := []int64{1, -1, 7, 1 << 31, -(1 << 31), math.MaxInt32, math.MinInt32, 3_000_000_000, -3_000_000_000, 1 << 40}
	var c cells
	model := map[uint32]int64{}
	for step := range 200_000 {
		k := uint32(rng.IntN(64))
		switch op := rng.IntN(20); {
		case op < 12:
			d := deltas[rng.IntN(len(deltas))]
			c.add(k, d)
			model[k] += d
		case op < 18:
			v := deltas[rng.IntN(len(deltas))] * int64(rng.IntN(3))
			changed := c.set(k, v)
			if changed != (model[k] != v) {
				t.Fatalf("step %d: set(%d, %d) changed=%v, model had %d", step, k, v, changed, model[k])
			}
			model[k] = v
		case op == 18:
			c.dropBefore(k)
			for mk := range model {
				if mk < k {
					delete(model, mk)
				}
			}
		default:
			odd := k%2 == 1
			c.keep(func(x uint32) bool { return (x%2 == 1) == odd || x > k })
			for mk := range model {
				if (mk%2 == 1) != odd && mk <= k {
					delete(model, mk)
				}
			}
		}
		for mk, v := range model {
			if v == 0 {
				delete(model, mk)
			}
		}
		check(t, step, &c, model)
	}
}

func check(t *testing.T, step int, c *cells, model map[uint32]int64) {
	t.Helper()
	if c.len() != len(model) || len(c.v) != len(c.k) {
		t.Fatalf("step %d: %d cells (%d values), model %d", step, c.len(), len(c.v), len(model))
	}
	if !slices.IsSorted(c.k) {
		t.Fatalf("step %d: keys out of order: %v", step, c.k)
	}
	marked := 0
	for i, k := range c.k {
		if got, want := c.at(i), model[k]; got != want || got == 0 {
			t.Fatalf("step %d: key %d = %d, want %d", step, k, got, want)
		}
		if c.get(k) != model[k] {
			t.Fatalf("step %d: get(%d) = %d, want %d", step, k, c.get(k), model[k])
		}
		if c.v[i] == bigMark {
			marked++
		}
	}
	big := 0
	if c.big != nil {
		big = len(*c.big)
		if big == 0 {
			t.Fatalf("step %d: an empty big list is kept", step)
		}
	}
	if big != marked {
		t.Fatalf("step %d: %d big cells for %d marked", step, big, marked)
	}
}

// A value past 32 bits (an hour's watch time past 24 days, in ms) reads,
// encodes and decodes whole.
func TestCellsBigValueRoundTrip(t *testing.T) {
	s := New(Spec{Counters: 2})
	at := t0 + 5*minuteMs
	s.Add(at, 0, 3_000_000_000)
	s.Add(at, 1, 5)
	s.Add(at, 0, 3_000_000_000)
	d, rest, err := Decode(s.Spec(), enc(t, s))
	if err != nil || len(rest) != 0 {
		t.Fatal(err)
	}
	for _, x := range []*Series{s, d} {
		b, err := x.Buckets(Hour, 0, at, at+1)
		if err != nil {
			t.Fatal(err)
		}
		if b[0].V != 6_000_000_000 {
			t.Fatalf("hour bucket = %d, want 6e9", b[0].V)
		}
		if got := x.Total(0, at, at+minuteMs); got != 6_000_000_000 {
			t.Fatalf("total = %d, want 6e9", got)
		}
	}
	if string(enc(t, d)) != string(enc(t, s)) {
		t.Fatal("a decoded series encodes differently")
	}
}
