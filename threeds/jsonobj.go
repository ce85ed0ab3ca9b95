package threeds

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/keygate/keygate/internal/kgerr"
)

// objectMembers parses data as exactly one JSON object and returns the raw
// value of each member. A member name that appears twice is refused: keygate
// signs and forwards some objects verbatim, and a duplicate would let two
// parsers read two different keys from the same bytes.
func objectMembers(data []byte, field string) (map[string]json.RawMessage, error) {
	bad := func(why string) error {
		return kgerr.Errorf(kgerr.InvalidArgument, "%s: %s", field, why)
	}
	if !json.Valid(data) {
		return nil, bad("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad("must be a JSON object")
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("not valid JSON")
		}
		name, _ := tok.(string)
		if _, dup := members[name]; dup {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s: member %q appears more than once", field, name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, bad("not valid JSON")
		}
		members[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, bad("not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bad("must be a single JSON object")
	}
	return members, nil
}

// stringMember returns the string value of member name, with ok=false when
// it is absent. A present member that is not a JSON string is an error.
func stringMember(m map[string]json.RawMessage, name, field string) (s string, ok bool, err error) {
	raw, ok := m[name]
	if !ok {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil || len(raw) == 0 || raw[0] != '"' {
		return "", true, kgerr.Errorf(kgerr.InvalidArgument, "%s.%s must be a string", field, name)
	}
	return s, true, nil
}

// requiredString is stringMember for a member that must be present.
func requiredString(m map[string]json.RawMessage, name, field string) (string, error) {
	s, ok, err := stringMember(m, name, field)
	if err == nil && !ok {
		err = kgerr.Errorf(kgerr.InvalidArgument, "%s.%s is missing", field, name)
	}
	return s, err
}

// jsonString encodes s as a JSON string without HTML escaping, so a URL
// keeps its '&' as the caller wrote it.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
