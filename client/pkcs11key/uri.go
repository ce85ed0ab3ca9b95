package pkcs11key

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// URI is a parsed RFC 7512 PKCS#11 URI naming one key on one token:
//
//	pkcs11:token=admin;object=alice?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/keygate/pin
//
// Path attributes select the token (token, serial, manufacturer, model,
// slot-id) and the key (object = CKA_LABEL, id = CKA_ID, type); query
// attributes say how to reach it (module-path) and where the PIN comes
// from (pin-source, pin-value; neither: the caller asks for it). Values
// are percent-decoded. An attribute keygate does not know is refused, so a
// misspelt "objet=" cannot select a key nobody meant.
type URI struct {
	Token, Serial, Manufacturer, Model string
	SlotID                             *uint
	Object                             string
	ID                                 []byte
	Type                               string // "private", "public", "cert" or empty
	ModulePath                         string
	PINSource                          string // a file: URI or an absolute path

	pinValue string // never printed: String shows pin-value=redacted
	hasPIN   bool
}

// IsURI says whether s is meant as a PKCS#11 URI rather than a file name.
func IsURI(s string) bool { return len(s) >= 7 && strings.EqualFold(s[:7], "pkcs11:") }

// ParseURI parses s. Errors name the attribute at fault and never hold a
// PIN.
func ParseURI(s string) (*URI, error) {
	if !IsURI(s) {
		return nil, errors.New("pkcs11 uri: must start with \"pkcs11:\"")
	}
	path, query, _ := strings.Cut(s[7:], "?")
	u := &URI{}
	seen := map[string]bool{}
	for _, part := range split(path, ";") {
		name, v, err := attribute(part, seen)
		if err != nil {
			return nil, err
		}
		if err := u.setPath(name, v); err != nil {
			return nil, err
		}
	}
	for _, part := range split(query, "&") {
		name, v, err := attribute(part, seen)
		if err != nil {
			return nil, err
		}
		switch name {
		case "module-path":
			u.ModulePath = v
		case "pin-source":
			u.PINSource = v
		case "pin-value":
			u.pinValue, u.hasPIN = v, true
		case "module-name":
			return nil, errors.New("pkcs11 uri: module-name is not supported: give the library's module-path")
		default:
			return nil, fmt.Errorf("pkcs11 uri: unknown query attribute %q", name)
		}
	}
	switch {
	case u.ModulePath == "":
		return nil, errors.New("pkcs11 uri: module-path is required (the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so)")
	case u.Object == "" && u.ID == nil:
		return nil, errors.New("pkcs11 uri: object (the key's label) or id is required")
	case u.Token == "" && u.Serial == "" && u.SlotID == nil:
		return nil, errors.New("pkcs11 uri: token, serial or slot-id is required")
	case u.hasPIN && u.PINSource != "":
		return nil, errors.New("pkcs11 uri: give pin-source or pin-value, not both")
	case u.Type != "" && u.Type != "private":
		return nil, fmt.Errorf("pkcs11 uri: type=%s: a client key is type=private", u.Type)
	}
	return u, nil
}

func (u *URI) setPath(name, v string) error {
	switch name {
	case "token":
		u.Token = v
	case "serial":
		u.Serial = v
	case "manufacturer":
		u.Manufacturer = v
	case "model":
		u.Model = v
	case "object":
		u.Object = v
	case "id":
		u.ID = []byte(v)
	case "type":
		u.Type = v
	case "slot-id":
		var n uint
		if _, err := fmt.Sscan(v, &n); err != nil || fmt.Sprint(n) != v {
			return fmt.Errorf("pkcs11 uri: slot-id %q is not a decimal number", v)
		}
		u.SlotID = &n
	case "library-description", "library-manufacturer", "library-version", "slot-description", "slot-manufacturer":
		return fmt.Errorf("pkcs11 uri: attribute %q is not supported; select the token by token, serial or slot-id", name)
	default:
		return fmt.Errorf("pkcs11 uri: unknown path attribute %q", name)
	}
	return nil
}

func split(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}

// attribute splits name=value and percent-decodes the value. An attribute
// given twice is refused: which one would win is not obvious to a reader.
func attribute(part string, seen map[string]bool) (string, string, error) {
	name, raw, ok := strings.Cut(part, "=")
	if !ok || name == "" {
		return "", "", fmt.Errorf("pkcs11 uri: %q is not name=value", redact(part))
	}
	if seen[name] {
		return "", "", fmt.Errorf("pkcs11 uri: attribute %q is given twice", name)
	}
	seen[name] = true
	v, err := url.PathUnescape(raw)
	if err != nil {
		if name == "pin-value" {
			return "", "", errors.New("pkcs11 uri: pin-value has a bad percent-encoding")
		}
		return "", "", fmt.Errorf("pkcs11 uri: %s: bad percent-encoding in %q", name, raw)
	}
	return name, v, nil
}

func redact(part string) string {
	if strings.HasPrefix(part, "pin-value") {
		return "pin-value=redacted"
	}
	return part
}

// PIN returns the PIN the URI gives: pin-value, or the first line of the
// pin-source file. ok is false when the URI gives none, and the caller
// must ask for it.
func (u *URI) PIN() (pin string, ok bool, err error) {
	if u.hasPIN {
		return u.pinValue, true, nil
	}
	if u.PINSource == "" {
		return "", false, nil
	}
	file := u.PINSource
	if strings.HasPrefix(file, "file:") {
		p, err := url.Parse(file)
		if err != nil || (p.Host != "" && p.Host != "localhost") {
			return "", false, fmt.Errorf("pkcs11 uri: pin-source %q is not a local file: URI", file)
		}
		file = p.Path
	}
	if !strings.HasPrefix(file, "/") {
		return "", false, fmt.Errorf("pkcs11 uri: pin-source %q: want file:/absolute/path", u.PINSource)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		// The path error names the file, never its content.
		return "", false, fmt.Errorf("pkcs11 uri: pin-source: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(line, "\r"), true, nil
}

// String is the URI for messages, with a pin-value redacted.
func (u *URI) String() string {
	var path []string
	add := func(name, v string) {
		if v != "" {
			path = append(path, name+"="+escape(v))
		}
	}
	add("token", u.Token)
	add("serial", u.Serial)
	add("manufacturer", u.Manufacturer)
	add("model", u.Model)
	if u.SlotID != nil {
		add("slot-id", fmt.Sprint(*u.SlotID))
	}
	add("object", u.Object)
	if u.ID != nil {
		add("id", string(u.ID))
	}
	add("type", u.Type)
	q := []string{"module-path=" + escape(u.ModulePath)}
	if u.PINSource != "" {
		q = append(q, "pin-source="+escape(u.PINSource))
	}
	if u.hasPIN {
		q = append(q, "pin-value=redacted")
	}
	return "pkcs11:" + strings.Join(path, ";") + "?" + strings.Join(q, "&")
}

// escape percent-encodes what RFC 7512 does not allow raw in a value.
func escape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~:[]@!$'()*+,/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// selector describes the key the URI selects, for "not found" messages.
func (u *URI) selector() string {
	var parts []string
	if u.Object != "" {
		parts = append(parts, fmt.Sprintf("object=%q", u.Object))
	}
	if u.ID != nil {
		parts = append(parts, "id="+escape(string(u.ID)))
	}
	return strings.Join(parts, " ")
}

// tokenName describes the token the URI selects.
func (u *URI) tokenName() string {
	switch {
	case u.Token != "":
		return fmt.Sprintf("token %q", u.Token)
	case u.Serial != "":
		return fmt.Sprintf("token with serial %q", u.Serial)
	default:
		return fmt.Sprintf("the token in slot %d", *u.SlotID)
	}
}
