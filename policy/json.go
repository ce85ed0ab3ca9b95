package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// node is one JSON value of a policy document, kept in document order so
// that duplicate names can be found and problems reported where they are.
// encoding/json's Unmarshal silently keeps the last duplicate, which in a
// policy would let a reviewer read one Effect while keygate enforces another.
type node struct {
	kind  nodeKind
	str   string   // string, number (its literal text) or bool ("true"/"false")
	arr   []*node  // array elements
	names []string // object member names, in order
	vals  []*node  // object member values, parallel to names
}

type nodeKind int

const (
	kNull nodeKind = iota
	kString
	kNumber
	kBool
	kArray
	kObject
)

func (k nodeKind) String() string {
	return [...]string{"null", "string", "number", "boolean", "array", "object"}[k]
}

// maxDepth bounds nesting; a key policy never needs more than five levels.
const maxDepth = 16

// parseJSON decodes data strictly: one value, no trailing data, no
// duplicate member names at any level.
func parseJSON(data []byte) (*node, error) {
	// encoding/json would turn invalid UTF-8 into U+FFFD, so two different
	// documents could compile to the same policy.
	if !utf8.Valid(data) {
		return nil, errors.New("document is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := readNode(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the policy document")
	}
	return n, nil
}

func readNode(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errors.New("document nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("unexpected end of document")
		}
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	switch t := tok.(type) {
	case nil:
		return &node{kind: kNull}, nil
	case string:
		return &node{kind: kString, str: t}, nil
	case json.Number:
		return &node{kind: kNumber, str: t.String()}, nil
	case bool:
		s := "false"
		if t {
			s = "true"
		}
		return &node{kind: kBool, str: s}, nil
	case json.Delim:
		switch t {
		case '[':
			n := &node{kind: kArray}
			for dec.More() {
				v, err := readNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.arr = append(n.arr, v)
			}
			_, err := dec.Token() // ']'
			return n, err
		case '{':
			n := &node{kind: kObject}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("malformed JSON: %w", err)
				}
				name := kt.(string) // the decoder only yields strings here
				if seen[name] {
					return nil, fmt.Errorf("duplicate member %q", name)
				}
				seen[name] = true
				v, err := readNode(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.names = append(n.names, name)
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token() // '}'
			return n, err
		}
	}
	return nil, fmt.Errorf("malformed JSON: unexpected %v", tok)
}

// get returns the member called name, or nil.
func (n *node) get(name string) *node {
	for i, k := range n.names {
		if k == name {
			return n.vals[i]
		}
	}
	return nil
}

// scalarText is the text of a string, number or bool: IAM accepts JSON
// numbers and booleans as condition values and compares their text.
func (n *node) scalarText() (string, bool) {
	switch n.kind {
	case kString, kNumber, kBool:
		return n.str, true
	}
	return "", false
}
