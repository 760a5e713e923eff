package httpapi

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// The seen answer's hand-written encoder writes what s.ok's encoding/json
// writes, byte for byte: every length a request can ask (1 to 500 ids, and
// none), random answers, and request ids with characters JSON escapes.
func TestSeenAnswerJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := []string{"req_0123456789abcdef0123", "", `a"b\c`, "<tag>&", "é\u2028\x01"}
	for n := 0; n <= 500; n++ {
		seen := make([]bool, n)
		for i := range seen {
			seen[i] = rng.IntN(2) == 1
		}
		id := ids[n%len(ids)]
		want, err := json.Marshal(envelope{Data: fiber.Map{"seen": seen}, Meta: meta{RequestID: id}})
		if err != nil {
			t.Fatal(err)
		}
		// Appended after an earlier answer, as the handler's reused
		// buffer is.
		got := appendSeenAnswer([]byte("an earlier answer")[:0], seen, id)
		if string(got) != string(want) {
			t.Fatalf("%d ids, request id %q:\n got %s\nwant %s", n, id, got, want)
		}
	}
}
