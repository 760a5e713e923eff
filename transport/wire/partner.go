package wire

import (
	"bytes"
	"encoding/json"
	"net/mail"

	"github.com/engagedhq/engaged/actors"
)

// The partner API's request bodies (secret key): render events, shares,
// e-mails and content registration.

// PartnerEvent is the body of POST /v1/renders/:id/events.
type PartnerEvent struct {
	Type     actors.EventType // viewed, downloaded or printed
	Metadata json.RawMessage  // compacted object, or nil
}

var partnerTypes = []string{string(actors.Viewed), string(actors.Downloaded), string(actors.Printed)}

// DecodePartnerEvent decodes {"eventType", "metadata"?}; maxMetadata bounds
// the compacted metadata.
func DecodePartnerEvent(b []byte, maxMetadata int) (PartnerEvent, error) {
	obj, err := Object(b)
	if err != nil {
		return PartnerEvent{}, err
	}
	is := &actors.Issues{FormErrors: []string{}}
	var ev PartnerEvent
	if str, ok := stringMember(is, "eventType", obj["eventType"], true); ok {
		if ev.Type = actors.EventType(str); !ev.Type.PartnerType() {
			is.Add("eventType", enumError(partnerTypes, str))
		}
	}
	ev.Metadata = Metadata(is, obj["metadata"], maxMetadata)
	if !is.Empty() {
		return PartnerEvent{}, Invalid(is)
	}
	return ev, nil
}

// DecodeShare decodes the body of POST /v1/renders/:id/shares,
// {"metadata"?}, and returns the compacted metadata or nil.
func DecodeShare(b []byte, maxMetadata int) (json.RawMessage, error) {
	obj, err := Object(b)
	if err != nil {
		return nil, err
	}
	is := &actors.Issues{FormErrors: []string{}}
	md := Metadata(is, obj["metadata"], maxMetadata)
	if !is.Empty() {
		return nil, Invalid(is)
	}
	return md, nil
}

// MaxRecipient is the longest address RFC 5321 allows in a path.
const MaxRecipient = 254

// Email is the body of POST /v1/renders/:id/emails.
type Email struct {
	To      string // the bare address
	ShareID string // canonical UUID, or "" for a new share
}

// DecodeEmail decodes {"to", "shareId"?}.
func DecodeEmail(b []byte) (Email, error) {
	obj, err := Object(b)
	if err != nil {
		return Email{}, err
	}
	is := &actors.Issues{FormErrors: []string{}}
	var e Email
	if str, ok := stringMember(is, "to", obj["to"], true); ok {
		if a, err := mail.ParseAddress(str); err != nil || len(a.Address) > MaxRecipient {
			is.Add("to", "Invalid email")
		} else {
			e.To = a.Address
		}
	}
	if str, ok := stringMember(is, "shareId", obj["shareId"], false); ok {
		if e.ShareID, ok = UUID(str); !ok {
			is.Add("shareId", "Invalid uuid")
		}
	}
	if !is.Empty() {
		return Email{}, Invalid(is)
	}
	return e, nil
}

// DecodeContent decodes the optional body of POST /v1/contents, {"id"?},
// and returns the id asked for, or "" for a generated one.
func DecodeContent(b []byte) (string, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return "", nil
	}
	obj, err := Object(b)
	if err != nil {
		return "", err
	}
	is := &actors.Issues{FormErrors: []string{}}
	id, ok := stringMember(is, "id", obj["id"], false)
	if ok && id == "" {
		is.Add("id", nonEmpty)
	}
	if !is.Empty() {
		return "", Invalid(is)
	}
	return id, nil
}
