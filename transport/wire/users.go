package wire

import (
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/engagedhq/engaged/actors"
)

// The per-user routes' inputs: POST /v1/users/:userId/seen and
// GET /v1/users/:userId/history (docs/USERS.md).

// DefaultHistoryLimit is the history's limit when the query gives none.
const DefaultHistoryLimit = actors.MaxHistory

// UserID decodes the :userId path parameter as the router gave it
// (percent-encoded): a userId as SDK events carry it, 1 to MaxStringLen
// bytes.
func UserID(raw string) (string, error) {
	id, err := url.PathUnescape(raw)
	if err != nil || id == "" || len(id) > MaxStringLen {
		is := &actors.Issues{FormErrors: []string{}}
		is.Add("userId", "userId must be 1 to "+strconv.Itoa(MaxStringLen)+" bytes, percent-encoded in the path")
		return "", Invalid(is)
	}
	return id, nil
}

// DecodeSeenQuery decodes {"contentIds": [...]}: 1 to actors.MaxSeenQuery
// strings, each appended to dst[:0] as its actors.ContentHash (what the
// user's state keeps), so a caller can reuse one slice across requests. An
// id that no content could have (not actors.ValidID) is an error, so a
// client learns of a mangled id instead of a silent false.
func DecodeSeenQuery(dst []uint64, b []byte) ([]uint64, error) {
	if hashes, ok := plainSeenQuery(dst[:0], b); ok {
		return hashes, nil
	}
	ids, err := decodeSeenQuery(b)
	if err != nil {
		return nil, err
	}
	hashes := dst[:0]
	for _, id := range ids {
		hashes = append(hashes, actors.ContentHash(id))
	}
	return hashes, nil
}

// plainSeenQuery decodes the body nearly every feed sends, in one pass and
// without a string per id: exactly {"contentIds": [...]} with 1 to
// actors.MaxSeenQuery ids that are each actors.ValidID as written (so no
// escapes), and JSON whitespace anywhere between. It reports false for
// anything else, which decodeSeenQuery then decodes or rejects. Why:
// decodeSeenQuery walks a 500-id body five times (json.Valid, then
// Unmarshal's own check and parse for the object, the array and each id),
// and a seen profile at 100k users spent 40 % of the server's CPU there and
// most of the rest in the GC of its garbage. FuzzSeenQuery holds the two to
// the same answers. The hashes are appended to hashes (empty).
func plainSeenQuery(hashes []uint64, b []byte) ([]uint64, bool) {
	const key = `"contentIds"`
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipWS(b, i+1)
	if len(b)-i < len(key) || string(b[i:i+len(key)]) != key {
		return nil, false
	}
	i = skipWS(b, i+len(key))
	if i >= len(b) || b[i] != ':' {
		return nil, false
	}
	i = skipWS(b, i+1)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	for {
		i = skipWS(b, i+1) // past '[' or ','
		if i >= len(b) || b[i] != '"' || len(hashes) == actors.MaxSeenQuery {
			return nil, false
		}
		end := i + 1
		for end < len(b) && end-i-1 <= actors.MaxIDLen && actors.IDByte(b[end]) {
			end++
		}
		// The bytes between are id bytes, so the id is valid if 1 to
		// MaxIDLen of them (actors.ValidID).
		if n := end - i - 1; end >= len(b) || b[end] != '"' || n == 0 || n > actors.MaxIDLen {
			return nil, false
		}
		hashes = append(hashes, actors.ContentHashBytes(b[i+1:end]))
		i = skipWS(b, end+1)
		if i < len(b) && b[i] == ',' {
			continue
		}
		if i >= len(b) || b[i] != ']' {
			return nil, false
		}
		break
	}
	i = skipWS(b, i+1)
	if i >= len(b) || b[i] != '}' {
		return nil, false
	}
	if skipWS(b, i+1) != len(b) {
		return nil, false
	}
	return hashes, true
}

// decodeSeenQuery decodes any body, with the field errors of the envelope.
func decodeSeenQuery(b []byte) ([]string, error) {
	obj, err := Object(b)
	if err != nil {
		return nil, err
	}
	is := &actors.Issues{FormErrors: []string{}}
	for k := range obj {
		if k != "contentIds" {
			is.Add(k, "Unrecognized key")
		}
	}
	v, ok := present(obj["contentIds"])
	if !ok {
		is.Add("contentIds", "Required")
		return nil, Invalid(is)
	}
	var ids []json.RawMessage
	if Kind(v) != "array" || json.Unmarshal(v, &ids) != nil {
		is.Add("contentIds", Expected("array", v))
		return nil, Invalid(is)
	}
	if len(ids) == 0 || len(ids) > actors.MaxSeenQuery {
		is.Add("contentIds", "Array must contain 1 to "+strconv.Itoa(actors.MaxSeenQuery)+" element(s)")
		return nil, Invalid(is)
	}
	out := make([]string, len(ids))
	for i, raw := range ids {
		key := "contentIds." + strconv.Itoa(i)
		if s, ok := stringMember(is, key, raw, true); ok {
			if !actors.ValidID(s) {
				is.Add(key, invalidID)
			}
			out[i] = s
		}
	}
	if !is.Empty() {
		return nil, Invalid(is)
	}
	return out, nil
}

// HistoryLimit decodes the history's ?limit= (absent: DefaultHistoryLimit):
// 1 to actors.MaxHistory.
func HistoryLimit(raw string) (int, error) {
	if raw == "" {
		return DefaultHistoryLimit, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > actors.MaxHistory {
		is := &actors.Issues{FormErrors: []string{}}
		is.Add("limit", "limit must be an integer from 1 to "+strconv.Itoa(actors.MaxHistory))
		return 0, Invalid(is)
	}
	return n, nil
}

// SignalsWindow decodes the signals' ?window= (absent: actors.WindowAll).
// 1h and 24h come from the content's in-memory series; 7d and 30d need its
// hours in Postgres and are refused as invalid for now, naming what is
// accepted.
func SignalsWindow(raw string) (string, error) {
	switch raw {
	case "", actors.WindowAll:
		return actors.WindowAll, nil
	case actors.Window1h, actors.Window24h:
		return raw, nil
	}
	is := &actors.Issues{FormErrors: []string{}}
	is.Add("window", `window must be "all", "1h" or "24h" (7d and 30d are not served yet)`)
	return "", Invalid(is)
}
