package wire

import (
	"testing"

	"github.com/engagedhq/engaged/actors"
)

func TestDecodeErasure(t *testing.T) {
	long := make([]byte, MaxStringLen+1)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		body, kind, id string
		code           actors.Code
	}{
		{`{"userId":"u 1"}`, actors.EraseUserID, "u 1", ""},
		{`{"deviceId":"d1","userId":null}`, actors.EraseDeviceID, "d1", ""},
		{`{"email":"ada@example.com"}`, actors.EraseEmail, "ada@example.com", ""},
		{`{}`, "", "", actors.EInvalid},
		{`{"userId":"a","deviceId":"b"}`, "", "", actors.EInvalid},
		{`{"userId":""}`, "", "", actors.EInvalid},
		{`{"userId":"` + string(long) + `"}`, "", "", actors.EInvalid},
		{`{"email":"not an address"}`, "", "", actors.EInvalid},
		{`{"userId":7}`, "", "", actors.EInvalid},
		{`[`, "", "", actors.EInvalidJSON},
		{`[]`, "", "", actors.EInvalid},
	}
	for _, tc := range tests {
		kind, id, err := DecodeErasure([]byte(tc.body))
		if tc.code != "" {
			if actors.ErrorCode(err) != tc.code {
				t.Errorf("%s: err %v, want %s", tc.body, err, tc.code)
			}
			continue
		}
		if err != nil || kind != tc.kind || id != tc.id {
			t.Errorf("%s: %q %q %v", tc.body, kind, id, err)
		}
	}
}
