package actors

import (
	"fmt"
	"time"
)

// Time is an instant with millisecond precision that encodes as ISO-8601 in
// UTC with milliseconds ("2026-05-03T10:20:00.000Z"), as the API documents.
// Events carry server-stamped Times in the log, so decisions made from them
// (dedupe windows) come out the same on every replay.
type Time struct{ time.Time }

// TimeLayout is the one wire format of Time.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// NewTime truncates t to milliseconds and moves it to UTC.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// UnixMilli returns the Time of ms milliseconds since the epoch.
func UnixMilli(ms int64) Time { return Time{time.UnixMilli(ms).UTC()} }

func (t Time) MarshalJSON() ([]byte, error) {
	return appendJSONTime(make([]byte, 0, len(TimeLayout)+2), t), nil
}

func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("time %s: not a string", b)
	}
	v, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return err
	}
	*t = NewTime(v)
	return nil
}
