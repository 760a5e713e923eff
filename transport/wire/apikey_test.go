package wire

import (
	"fmt"
	"strings"
	"testing"

	"github.com/engagedhq/engaged/actors"
)

func TestAPIKey(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		field            bool // refused with a field error on apiKey
	}{
		{"absent", `{"event":"like","contentId":"c1"}`, "", false},
		{"null", `{"apiKey":null,"events":[]}`, "", false},
		{"publishable", `{"apiKey":"pk_abc","events":[]}`, "pk_abc", false},
		{"escaped name is not the key", `{"api\u004bey":"sk_abc"}`, "", false},
		{"last wins", `{"apiKey":"pk_a","apiKey":"pk_b"}`, "pk_b", false},
		{"in an event only", `{"events":[{"apiKey":"pk_x"}]}`, "", false},
		{"not an object", `["apiKey"]`, "", false},
		{"secret", `{"apiKey":"sk_abc","events":[]}`, "", true},
		{"secret with spaces", `{"apiKey":" sk_abc"}`, "", true},
		{"number", `{"apiKey":5}`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := APIKey([]byte(tc.body))
			if tc.field {
				e, ok := err.(*actors.Error)
				if !ok || e.Code != actors.EInvalid || len(e.Issues.FieldErrors["apiKey"]) != 1 {
					t.Fatalf("APIKey(%s) = %q, %v; want a field error on apiKey", tc.body, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("APIKey(%s) = %q, %v; want %q", tc.body, got, err, tc.want)
			}
		})
	}
}

// BenchmarkAPIKey is the cost APIKey adds to every SDK events request, on
// BenchmarkParseContentBatch's 100-event body: without an apiKey member (a
// header key, the common case: two substring scans) and with one at its end
// (a sendBeacon body: a walk over the envelope's members).
func BenchmarkAPIKey(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"sentAt":"2026-05-03T10:29:59Z","events":[`)
	for i := 0; i < MaxBatchEvents; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"event":"watchProgress","eventId":"0193c2c3-aaaa-7000-8000-%012d","contentId":"cnt_%d","sessionId":"sess_xyz789","timestamp":"2026-05-03T10:29:58Z","data":{"currentTime":%d.5,"duration":45.2,"percentComplete":34.3,"rendition":"720p"}}`, i, i%10, i%45)
	}
	header := sb.String() + `]}`
	beacon := sb.String() + `],"apiKey":"pk_abcdefghijklmnopqrstuvwxyz234567abcdefg"}`
	for _, tc := range []struct{ name, body, want string }{{"header", header, ""}, {"body", beacon, "pk_abcdefghijklmnopqrstuvwxyz234567abcdefg"}} {
		b.Run(tc.name, func(b *testing.B) {
			body := []byte(tc.body)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if k, err := APIKey(body); err != nil || k != tc.want {
					b.Fatal(k, err)
				}
			}
		})
	}
}
