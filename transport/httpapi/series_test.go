package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/engagedhq/engaged/actors"
)

// The hand-written series encoder writes what encoding/json writes from
// seriesAnswer's tags, for answers of both families, with and without
// completeThrough, over values of every kind the buckets hold.
func TestSeriesAnswerJSON(t *testing.T) {
	type tagsOnly seriesAnswer // the same fields and tags, without MarshalJSON
	r := rand.New(rand.NewPCG(19, 5))
	values := []float64{0, 1, 42, 1 << 40, 0.001, 1.5, 1e-7, 1e21, 123.456}
	for n := range 500 {
		from := time.UnixMilli(r.Int64N(4e12)).UTC()
		a := &seriesAnswer{
			Metric: []string{"viewed", "watchTime", "users", "<&>\"é\xff"}[r.IntN(4)], Interval: []string{"minute", "hour", "day"}[r.IntN(3)],
			From: actors.NewTime(from), To: actors.NewTime(from.Add(time.Hour)), Late: r.Int64N(1000),
		}
		if n%2 == 0 {
			a.Uniques = actors.RenderUniques{Viewers: r.Uint64N(1e6), Approximate: r.IntN(2) == 0}
		} else {
			a.Uniques = actors.ContentUniques{Users: r.Uint64N(1e6), Sessions: r.Uint64N(1e6), Approximate: r.IntN(2) == 0}
		}
		if r.IntN(3) > 0 {
			ct := actors.NewTime(from.Add(time.Duration(r.Int64N(int64(time.Hour)))))
			a.CompleteThrough = &ct
		}
		switch n % 5 {
		case 0: // nil: encoding/json writes null
		case 1:
			a.Buckets = []seriesBucket{}
		default:
			a.Buckets = make([]seriesBucket, r.IntN(1500))
			for i := range a.Buckets {
				v := values[r.IntN(len(values))]
				if r.IntN(4) == 0 {
					v = r.Float64() * math.Pow(10, float64(r.IntN(30)-10))
				}
				a.Buckets[i] = seriesBucket{T: actors.NewTime(from.Add(time.Duration(i) * time.Minute)), V: v}
			}
		}
		want, err := json.Marshal((*tagsOnly)(a))
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("answer %d:\n got %s\nwant %s", n, got, want)
		}
		if !json.Valid(got) {
			t.Fatalf("answer %d: invalid JSON %s", n, got)
		}
	}
}
