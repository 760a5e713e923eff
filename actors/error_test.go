package actors

import (
	"errors"
	"fmt"
	"testing"
)

// The reason of a 503 is the field it was made with, found through wrapping;
// an error without one reads as ReasonOther.
func TestUnavailableReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Reason
	}{
		{errBusy(), ReasonActorBusy},
		{fmt.Errorf("read: %w", errLogUnavailable()), ReasonActorLoad},
		{&Error{Code: EUnavailable, Message: "item is busy"}, ReasonOther}, // the message is never read
		{errors.New("plain"), ReasonOther},
		{nil, ReasonOther},
	} {
		if got := UnavailableReason(tc.err); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.err, got, tc.want)
		}
	}
}
