package wire

import (
	"testing"

	"engaged/actors"
)

func TestAPIKey(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		field            bool // refused with a field error on apiKey
	}{
		{"absent", `{"event":"like","contentId":"c1"}`, "", false},
		{"null", `{"apiKey":null,"events":[]}`, "", false},
		{"publishable", `{"apiKey":"pk_abc","events":[]}`, "pk_abc", false},
		{"escaped name", `{"api\u004bey":"pk_abc"}`, "pk_abc", false},
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
