package wire

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/engagedhq/engaged/actors"
)

// SystemEvent is one message of the internal system-events subject, as
// trusted publishers inside the deployment send it.
type SystemEvent struct {
	ID, Project, Render string // canonical UUIDs
	Type                actors.EventType
	ShareID             string // canonical UUID, or ""
	Metadata            json.RawMessage
}

var (
	systemTypes  = []string{string(actors.EmailSent), string(actors.ShareCreated), string(actors.ShareRevoked)}
	systemFields = map[string]bool{"id": true, "projectId": true, "renderId": true, "eventType": true, "shareId": true, "metadata": true}
)

// DecodeSystemEvent decodes a system event against its documented schema,
// which, unlike the HTTP bodies, rejects unknown members.
func DecodeSystemEvent(b []byte, maxMetadata int) (SystemEvent, error) {
	obj, err := Object(b)
	if err != nil {
		return SystemEvent{}, err
	}
	is := &actors.Issues{FormErrors: []string{}}
	var unknown []string
	for f := range obj {
		if !systemFields[f] {
			unknown = append(unknown, "'"+f+"'")
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		is.FormErrors = append(is.FormErrors, "Unrecognized key(s) in object: "+strings.Join(unknown, ", "))
	}
	uuidMember := func(name string, required bool) string {
		str, ok := stringMember(is, name, obj[name], required)
		if !ok {
			return ""
		}
		id, ok := UUID(str)
		if !ok {
			is.Add(name, "Invalid uuid")
		}
		return id
	}
	var ev SystemEvent
	ev.ID = uuidMember("id", true)
	ev.Project = uuidMember("projectId", true)
	ev.Render = uuidMember("renderId", true)
	ev.ShareID = uuidMember("shareId", false)
	if str, ok := stringMember(is, "eventType", obj["eventType"], true); ok {
		if ev.Type = actors.EventType(str); !contains(systemTypes, str) {
			is.Add("eventType", enumError(systemTypes, str))
		} else if ev.Type != actors.EmailSent && ev.ShareID == "" && is.FieldErrors["shareId"] == nil {
			is.Add("shareId", "Required for "+str)
		}
	}
	ev.Metadata = Metadata(is, obj["metadata"], maxMetadata)
	if !is.Empty() {
		return SystemEvent{}, &actors.Error{Code: actors.EInvalid, Message: "message does not match the schema", Issues: is}
	}
	return ev, nil
}
