package kmsserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// decode parses a request strictly: a field KMS does not have is a
// ValidationException, a body that is not JSON of the right shape (bad
// base64 in a blob included) a SerializationException.
func decode(c *call, v any) *kmsError {
	body := c.body
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return validation("Unknown field %s in %sRequest", field, c.op)
		}
		return errf("SerializationException", "could not parse %s request: %v", c.op, err)
	}
	if dec.More() {
		return errf("SerializationException", "trailing data after %s request", c.op)
	}
	return nil
}

// check collects validation failures and reports them all at once, in
// KMS's wording ("2 validation errors detected: ...; ...").
type check struct{ problems []string }

func (v *check) required(name string, present bool) {
	if !present {
		v.add("Value null at '%s' failed to satisfy constraint: Member must not be null", lower(name))
	}
}

func (v *check) length(name string, n, min, max int) {
	switch {
	case n < min:
		v.add("Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", lower(name), min)
	case n > max:
		v.add("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", lower(name), max)
	}
}

// enum checks an optional enumerated value ("" means absent).
func (v *check) enum(name, value string, allowed ...string) {
	if value != "" && !slices.Contains(allowed, value) {
		v.add("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
			value, lower(name), strings.Join(allowed, ", "))
	}
}

func (v *check) add(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (v *check) err() *kmsError {
	switch len(v.problems) {
	case 0:
		return nil
	case 1:
		return errf("ValidationException", "1 validation error detected: %s", v.problems[0])
	}
	return errf("ValidationException", "%d validation errors detected: %s",
		len(v.problems), strings.Join(v.problems, "; "))
}

// lower turns a KMS member name into the form its messages and CloudTrail
// use: KeyId -> keyId.
func lower(name string) string {
	if name == "" {
		return name
	}
	r := []rune(name)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// Enumerations KMS validates.
var (
	signingAlgorithms = []string{"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
		"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		"ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512"}
	encryptionAlgorithms = []string{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}
	macAlgorithms        = []string{"HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"}
	messageTypes         = []string{"RAW", "DIGEST"}
	keyUsages            = []string{"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"}
)

// keySpecs lists the supported key specs in a stable order.
func keySpecs() []string {
	out := make([]string, 0, len(specUsages))
	for s := range specUsages {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}
