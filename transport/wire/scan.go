package wire

import (
	"bytes"
	"encoding/json"
	"errors"
)

// A minimal walker over the members of a JSON object, for the SDK event hot
// path: encoding/json into map[string]json.RawMessage costs a map and a copy
// per member, which was most of an event's decode time. The walker only
// slices the input; it is given JSON that encoding/json already validated
// (the events of a decoded body), and on anything else it returns an error
// instead of panicking.

var errMalformed = errors.New("malformed JSON object")

// eachMember calls fn with the key (unquoted when it has no escapes) and the
// raw value of each member of obj, in order. A repeated key is passed each
// time, so the last one wins when fn assigns, as with encoding/json.
func eachMember(obj []byte, fn func(key, val []byte)) error {
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errMalformed
	}
	i = skipWS(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return errMalformed
		}
		end, escaped, err := skipString(obj, i)
		if err != nil {
			return err
		}
		key := obj[i+1 : end-1]
		if escaped {
			var k string
			if json.Unmarshal(obj[i:end], &k) != nil {
				return errMalformed
			}
			key = []byte(k)
		}
		i = skipWS(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return errMalformed
		}
		i = skipWS(obj, i+1)
		vend, err := skipValue(obj, i)
		if err != nil {
			return err
		}
		fn(key, obj[i:vend])
		i = skipWS(obj, vend)
		if i >= len(obj) {
			return errMalformed
		}
		switch obj[i] {
		case ',':
			i = skipWS(obj, i+1)
		case '}':
			return nil
		default:
			return errMalformed
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) (end int, escaped bool, err error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped, nil
		}
	}
	return 0, false, errMalformed
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errMalformed
	}
	switch b[i] {
	case '"':
		end, _, err := skipString(b, i)
		return end, err
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errMalformed
	default:
		j := i
		for j < len(b) && bytes.IndexByte([]byte(",}] \t\r\n"), b[j]) < 0 {
			j++
		}
		if j == i {
			return 0, errMalformed
		}
		return j, nil
	}
}

// eachElement calls fn with each raw element of the JSON array arr.
func eachElement(arr []byte, fn func(val []byte)) error {
	i := skipWS(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return errMalformed
	}
	i = skipWS(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		return nil
	}
	for {
		end, err := skipValue(arr, i)
		if err != nil {
			return err
		}
		fn(arr[i:end])
		i = skipWS(arr, end)
		if i >= len(arr) {
			return errMalformed
		}
		switch arr[i] {
		case ',':
			i = skipWS(arr, i+1)
		case ']':
			return nil
		default:
			return errMalformed
		}
	}
}
