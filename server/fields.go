package server

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/policy"
	"github.com/keygate/keygate/threeds"
)

// Request validation, the pipeline's first stage after identity: every
// string and bytes field of every request is bounded in length and
// characters before anything else reads it, so an error message, a log
// line and an audit event built from a request always fit and never carry
// control characters. Handlers check the meaning of fields (an algorithm
// valid for the key, a digest of the right size) after the policy.

// charset says which characters a field may hold.
type charset int

const (
	keyName  charset = iota // keys.ValidName
	token                   // printable ASCII, no space: algorithms, ids, ARNs, URLs
	text                    // printable Unicode and spaces: descriptions, context keys
	document                // text plus tab, LF and CR: policies, PEM
	anyUTF8                 // encryption-context values: hashed, never shown
	opaque                  // bytes: length only
)

// fieldRule bounds one field; max is in bytes.
type fieldRule struct {
	max   int
	chars charset
}

// Limits on request fields, KMS's where KMS has one.
const (
	maxCiphertextBlob = 6144
	maxPolicyBytes    = 32 << 10 // KMS: 32 KB
	maxDescription    = 8192     // KMS: 8192 characters
	maxJWS            = 64 << 10 // threeds checks each JWS against its spec bound
	maxBytesField     = 16 << 10
	maxToken          = 256
)

// fieldRules names the fields that differ from the default (a token of at
// most 256 bytes, or for bytes up to 16 KiB).
var fieldRules = map[protoreflect.Name]fieldRule{
	"key_id":             {256, keyName},
	"key_name":           {256, keyName},
	"page_token":         {256, keyName},
	"description":        {maxDescription, text},
	"policy":             {maxPolicyBytes, document},
	"chain_pem":          {maxChainPEM, document},
	"root_pem":           {maxChainPEM, document},
	"subject":            {1024, text},
	"destination_key_id": {256, keyName},
	"jwe":                {threeds.MaxCReqJWE, token}, // the largest JWE a request carries: a 2.3.1 CReq

	"jws":                  {maxJWS, token},
	"acs_url":              {2048, token},
	"principal_arn":        {2048, token},
	"principal":            {2048, token},
	"backend_key_id":       {2048, token},
	"ciphertext_blob":      {maxCiphertextBlob, opaque},
	"creq":                 {threeds.MaxCReq + 4<<10, opaque}, // a little over the spec's bound, so threeds names it
	"sdk_reference_number": {maxToken, text},
	"cres":                 {threeds.MaxCRes + 4<<10, opaque},
	// BYOK: the token is base64url JSON naming a key (up to 256 bytes)
	// and, on KMS, holding KMS's own import token (at most 6144 bytes);
	// the material is an RSA block and, for a private key, its PKCS#8
	// under AES key wrap (an RSA 4096 key is about 2.4 KB).
	"import_token":           {12 << 10, token},
	"encrypted_key_material": {8 << 10, opaque},
	// An audit filter's encryption context: the key as a context key, the
	// value's HMAC in hex.
	"key":        contextKeyRule,
	"value_hmac": {64, token},
}

var contextKeyRule = fieldRule{256, text}
var contextValueRule = fieldRule{maxEncContextBytes, anyUTF8}

// validateRequest checks every field of a request message.
func validateRequest(m proto.Message) error {
	return validateMessage("", m.ProtoReflect())
}

func validateMessage(prefix string, m protoreflect.Message) error {
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := prefix + string(fd.Name())
		switch {
		case fd.IsMap():
			ec := map[string]string{}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if err = checkField(name+" key", contextKeyRule, k.String()); err == nil && fd.MapValue().Kind() == protoreflect.StringKind {
					err = checkField(name+" value", contextValueRule, mv.String())
					ec[k.String()] = mv.String()
				}
				return err == nil
			})
			if err == nil && strings.HasSuffix(name, "encryption_context") {
				// Keys equal under case folding make kms:EncryptionContext:
				// conditions ambiguous: refused as a request fault, before
				// the policy sees them.
				err = policy.CheckEncryptionContext(ec)
			}
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = checkValue(fmt.Sprintf("%s[%d]", name, i), fd, l.Get(i))
			}
		default:
			err = checkValue(name, fd, v)
		}
		return err == nil
	})
	return err
}

func checkValue(name string, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	rule, ok := fieldRules[fd.Name()]
	switch fd.Kind() {
	case protoreflect.StringKind:
		if !ok {
			rule = fieldRule{maxToken, token}
		}
		return checkField(name, rule, v.String())
	case protoreflect.BytesKind:
		if !ok {
			rule = fieldRule{maxBytesField, opaque}
		}
		if len(v.Bytes()) > rule.max {
			return kgerr.Errorf(kgerr.InvalidArgument, "%s is %d bytes; at most %d", name, len(v.Bytes()), rule.max)
		}
	case protoreflect.MessageKind:
		return validateMessage(name+".", v.Message())
	}
	return nil
}

// checkField never quotes the value: it may be a secret, or an attack on
// whoever reads the message.
func checkField(name string, r fieldRule, s string) error {
	if len(s) > r.max {
		return kgerr.Errorf(kgerr.InvalidArgument, "%s is %d bytes; at most %d", name, len(s), r.max)
	}
	if s == "" {
		return nil // required fields are checked where they are needed
	}
	if !utf8.ValidString(s) {
		return kgerr.Errorf(kgerr.InvalidArgument, "%s is not valid UTF-8", name)
	}
	switch r.chars {
	case keyName:
		if !keys.ValidName(s) {
			return kgerr.Errorf(kgerr.InvalidArgument, "%s must be %s", name, keys.NameRule)
		}
	case token:
		if strings.IndexFunc(s, func(c rune) bool { return c <= ' ' || c > '~' }) >= 0 {
			return kgerr.Errorf(kgerr.InvalidArgument, "%s may hold only printable ASCII without spaces", name)
		}
	case text, document:
		if strings.IndexFunc(s, func(c rune) bool { return !printable(c, r.chars == document) }) >= 0 {
			return kgerr.Errorf(kgerr.InvalidArgument, "%s holds a control or invisible formatting character", name)
		}
	}
	return nil
}

// printable is a letter, mark, number, punctuation, symbol or space
// separator; a document may also hold tab, LF and CR. Bidirectional
// overrides and other format characters are refused: they make a log line
// read differently from what it says.
func printable(c rune, doc bool) bool {
	if doc && (c == '\t' || c == '\n' || c == '\r') {
		return true
	}
	return c == ' ' || (unicode.IsPrint(c) && !unicode.Is(unicode.Cf, c))
}
