package kmsserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/tink-crypto/tink-go/v2/kwp/subtle"
)

// Importing key material, as KMS does it: CreateKey with Origin EXTERNAL
// leaves a key PendingImport; GetParametersForImport returns a fresh RSA
// wrapping public key and an opaque import token, both valid 24 hours;
// ImportKeyMaterial unwraps the material (RSAES_OAEP_SHA_*: directly;
// RSA_AES_KEY_WRAP_SHA_*: an AES-256 key under OAEP followed by the
// material under that key with RFC 5649 key wrap with padding) and the key
// becomes Enabled; DeleteImportedKeyMaterial takes the material away again.

// ImportParametersTTL is how long GetParametersForImport's answer is valid.
const ImportParametersTTL = 24 * time.Hour

// importTokenBytes is the size of a token: KMS's are opaque blobs of
// several hundred bytes (at most 6144).
const importTokenBytes = 768

// importParams is one GetParametersForImport answer, kept until it
// expires, by its token.
type importParams struct {
	keyID   string
	alg     string
	priv    *rsa.PrivateKey
	expires time.Time
}

// SetClock replaces the clock that import tokens and imported material
// expire by, so tests move past ParametersValidTo or ValidTo without
// waiting.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

var (
	wrappingAlgorithms = []string{"RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256",
		"RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256", "SM2PKE"}
	wrappingKeySpecs = []string{"RSA_2048", "RSA_3072", "RSA_4096", "SM2"}
)

type getParametersForImportRequest struct {
	KeyId             string
	WrappingAlgorithm string
	WrappingKeySpec   string
}

func getParametersForImport(s *Server, c *call) (any, *kmsError) {
	var req getParametersForImportRequest
	if kerr := decode(c, &req); kerr != nil {
		return nil, kerr
	}
	v := &check{}
	v.required("KeyId", req.KeyId != "")
	v.required("WrappingAlgorithm", req.WrappingAlgorithm != "")
	v.required("WrappingKeySpec", req.WrappingKeySpec != "")
	v.enum("WrappingAlgorithm", req.WrappingAlgorithm, wrappingAlgorithms...)
	v.enum("WrappingKeySpec", req.WrappingKeySpec, wrappingKeySpecs...)
	if kerr := v.err(); kerr != nil {
		return nil, kerr
	}
	c.params = map[string]any{"keyId": req.KeyId, "wrappingAlgorithm": req.WrappingAlgorithm, "wrappingKeySpec": req.WrappingKeySpec}
	switch {
	case req.WrappingAlgorithm == "RSAES_PKCS1_V1_5":
		return nil, errf("UnsupportedOperationException", "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported.")
	case req.WrappingAlgorithm == "SM2PKE" || req.WrappingKeySpec == "SM2":
		return nil, errf("UnsupportedOperationException", "SM2 wrapping is only available in China Regions.")
	}
	s.mu.Lock()
	k, kerr := s.resolve(req.KeyId)
	if kerr == nil {
		c.resources = append(c.resources, k.arn)
		kerr = k.importable()
	}
	var keyID, arn string
	if kerr == nil {
		keyID, arn = k.id, k.arn
	}
	s.mu.Unlock()
	if kerr != nil {
		return nil, kerr
	}
	var bits int
	switch req.WrappingKeySpec {
	case "RSA_2048":
		bits = 2048
	case "RSA_3072":
		bits = 3072
	default:
		bits = 4096
	}
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, errf("KMSInternalException", "%v", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, errf("KMSInternalException", "%v", err)
	}
	token := randBytes(importTokenBytes)
	s.mu.Lock()
	now := s.clock()
	for t, p := range s.imports {
		if !now.Before(p.expires) {
			delete(s.imports, t)
		}
	}
	p := &importParams{keyID: keyID, alg: req.WrappingAlgorithm, priv: priv, expires: now.Add(ImportParametersTTL)}
	s.imports[string(token)] = p
	s.mu.Unlock()
	return map[string]any{"KeyId": arn, "ImportToken": token, "PublicKey": der, "ParametersValidTo": epoch(p.expires)}, nil
}

// importable is nil if material may be imported into k.
func (k *key) importable() *kmsError {
	switch {
	case k.origin != OriginExternal:
		return errf("UnsupportedOperationException", "%s origin is %s which is not valid for this operation.", k.arn, k.origin)
	case k.state == PendingDeletion:
		return k.enabled()
	}
	return nil
}

type importKeyMaterialRequest struct {
	KeyId                  string
	ImportToken            []byte
	EncryptedKeyMaterial   []byte
	ValidTo                *float64
	ExpirationModel        string
	ImportType             string
	KeyMaterialDescription string
	KeyMaterialId          string
}

func importKeyMaterial(s *Server, c *call) (any, *kmsError) {
	var req importKeyMaterialRequest
	if kerr := decode(c, &req); kerr != nil {
		return nil, kerr
	}
	v := &check{}
	v.required("KeyId", req.KeyId != "")
	v.required("ImportToken", req.ImportToken != nil)
	v.required("EncryptedKeyMaterial", req.EncryptedKeyMaterial != nil)
	v.length("ImportToken", len(req.ImportToken), 1, 6144)
	v.length("EncryptedKeyMaterial", len(req.EncryptedKeyMaterial), 1, 6144)
	v.enum("ExpirationModel", req.ExpirationModel, "KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE")
	v.enum("ImportType", req.ImportType, "NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL")
	v.length("KeyMaterialDescription", len(req.KeyMaterialDescription), 0, 256)
	if kerr := v.err(); kerr != nil {
		return nil, kerr
	}
	model := req.ExpirationModel
	if model == "" {
		model = "KEY_MATERIAL_EXPIRES" // KMS's default
	}
	c.params = map[string]any{"keyId": req.KeyId, "expirationModel": model}
	if req.ImportType != "" {
		c.params["importType"] = req.ImportType
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	var validTo time.Time
	switch {
	case model == "KEY_MATERIAL_EXPIRES" && req.ValidTo == nil:
		return nil, validation("A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
	case model == "KEY_MATERIAL_DOES_NOT_EXPIRE" && req.ValidTo != nil:
		return nil, validation("A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE")
	case req.ValidTo != nil:
		validTo = time.UnixMilli(int64(*req.ValidTo * 1000)).UTC()
		c.params["validTo"] = validTo.Format("Jan 2, 2006, 3:04:05 PM")
		if !validTo.After(now) || validTo.After(now.Add(365*24*time.Hour)) {
			return nil, validation("Value at 'validTo' failed to satisfy constraint: Member must be a future date at most 365 days from now")
		}
	}
	k, kerr := s.resolve(req.KeyId)
	if kerr != nil {
		return nil, kerr
	}
	c.resources = append(c.resources, k.arn)
	if kerr := k.importable(); kerr != nil {
		return nil, kerr
	}
	symmetric := k.spec == "SYMMETRIC_DEFAULT"
	if !symmetric && (req.ImportType != "" || req.KeyMaterialDescription != "" || req.KeyMaterialId != "") {
		return nil, validation("ImportType, KeyMaterialDescription and KeyMaterialId are only valid for symmetric encryption keys")
	}
	p := s.imports[string(req.ImportToken)]
	switch {
	case p == nil || p.keyID != k.id:
		return nil, errf("InvalidImportTokenException", "Import token is invalid or is associated with a different KMS key.")
	case !now.Before(p.expires):
		return nil, errf("ExpiredImportTokenException", "Import token expired at %s. Use GetParametersForImport to get a new import token.",
			p.expires.Format(time.RFC3339))
	case k.state != PendingImport:
		return nil, errf("KMSInvalidStateException", "%s is %s, not pending import.", k.arn, k.state)
	}
	material, ok := p.unwrap(req.EncryptedKeyMaterial)
	if !ok {
		return nil, errf("InvalidCiphertextException", "The key material could not be decrypted with the wrapping key of this import token and algorithm %s.", p.alg)
	}
	signer, secret, kerr := k.parseMaterial(material, p.alg)
	if kerr != nil {
		return nil, kerr
	}
	id := materialID(k.id, material)
	switch {
	case k.materialID != "" && id != k.materialID:
		return nil, errf("IncorrectKeyMaterialException", "The key material is not the key material previously imported into %s.", k.arn)
	case req.KeyMaterialId != "" && req.KeyMaterialId != id:
		return nil, errf("IncorrectKeyMaterialException", "The key material does not match KeyMaterialId %s.", req.KeyMaterialId)
	case req.ImportType == "EXISTING_KEY_MATERIAL" && k.materialID == "":
		return nil, errf("IncorrectKeyMaterialException", "No key material was previously imported into %s.", k.arn)
	}
	k.signer, k.secret, k.materialID = signer, secret, id
	k.state, k.expirationModel, k.validTo = Enabled, model, validTo
	c.response = map[string]any{"keyId": k.arn, "keyMaterialId": id}
	return map[string]any{"KeyId": k.arn, "KeyMaterialId": id}, nil
}

// unwrap recovers the material wrapped under p's public key with p's
// algorithm.
func (p *importParams) unwrap(wrapped []byte) ([]byte, bool) {
	h := func() hash.Hash { return sha256.New() }
	if strings.HasSuffix(p.alg, "_SHA_1") {
		h = sha1.New
	}
	if !strings.HasPrefix(p.alg, "RSA_AES_KEY_WRAP_") {
		m, err := rsa.DecryptOAEP(h(), nil, p.priv, wrapped, nil)
		return m, err == nil
	}
	n := p.priv.Size()
	if len(wrapped) <= n {
		return nil, false
	}
	aesKey, err := rsa.DecryptOAEP(h(), nil, p.priv, wrapped[:n], nil)
	if err != nil || len(aesKey) != 32 {
		return nil, false
	}
	kwp, err := subtle.NewKWP(aesKey)
	if err != nil {
		return nil, false
	}
	m, err := kwp.Unwrap(wrapped[n:])
	return m, err == nil
}

// hmacSizes are the key material lengths KMS accepts per HMAC spec.
var hmacSizes = map[string][2]int{"HMAC_224": {28, 64}, "HMAC_256": {32, 64}, "HMAC_384": {48, 128}, "HMAC_512": {64, 128}}

// parseMaterial checks that material is key material of k's spec: 32
// bytes for SYMMETRIC_DEFAULT, raw bytes of the spec's range for HMAC, a
// PKCS#8 private key of the spec for RSA and ECC (RSA only with RSA_AES
// key wrap, as KMS requires).
func (k *key) parseMaterial(material []byte, alg string) (crypto.Signer, []byte, *kmsError) {
	bad := func(why string) *kmsError {
		return errf("IncorrectKeyMaterialException", "The key material is not valid for %s key spec %s: %s.", k.arn, k.spec, why)
	}
	if k.spec == "SYMMETRIC_DEFAULT" {
		if len(material) != 32 {
			return nil, nil, bad("it must be 32 bytes")
		}
		return nil, material, nil
	}
	if r, ok := hmacSizes[k.spec]; ok {
		if len(material) < r[0] || len(material) > r[1] {
			return nil, nil, bad("its length is out of range")
		}
		return nil, material, nil
	}
	priv, err := x509.ParsePKCS8PrivateKey(material)
	if err != nil {
		return nil, nil, bad("it is not a DER-encoded PKCS#8 private key")
	}
	switch pk := priv.(type) {
	case *rsa.PrivateKey:
		if strings.HasPrefix(k.spec, "RSA_") && k.spec == "RSA_"+strconv.Itoa(pk.N.BitLen()) {
			if !strings.HasPrefix(alg, "RSA_AES_KEY_WRAP_") {
				return nil, nil, bad("RSA key material must be wrapped with an RSA_AES_KEY_WRAP algorithm")
			}
			return pk, nil, nil
		}
	case *ecdsa.PrivateKey:
		if strings.HasPrefix(k.spec, "ECC_NIST_") && pk.Curve == curveOf(k.spec) {
			return pk, nil, nil
		}
	}
	return nil, nil, bad("it is a private key of another type or size")
}

// materialID is KMS's key material id: derived from the key id and the
// material, so the same material imported again has the same id.
func materialID(keyID string, material []byte) string {
	m := hmac.New(sha256.New, []byte(keyID))
	m.Write(material)
	return hex.EncodeToString(m.Sum(nil))
}

func deleteImportedKeyMaterial(s *Server, c *call) (any, *kmsError) {
	var req struct {
		KeyId         string
		KeyMaterialId string
	}
	return withKey(c, s, &req, func() string { return req.KeyId }, func(k *key) (any, *kmsError) {
		if kerr := k.importable(); kerr != nil {
			return nil, kerr
		}
		if k.state == PendingImport {
			return nil, errf("KMSInvalidStateException", "%s is pending import.", k.arn)
		}
		if req.KeyMaterialId != "" && req.KeyMaterialId != k.materialID {
			return nil, errf("NotFoundException", "Key material %s is not associated with %s.", req.KeyMaterialId, k.arn)
		}
		k.dropMaterial()
		c.response = map[string]any{"keyId": k.arn, "keyMaterialId": k.materialID}
		return map[string]any{"KeyId": k.arn, "KeyMaterialId": k.materialID}, nil
	})
}

// dropMaterial deletes imported material: the key is PendingImport until
// the same material is imported again.
func (k *key) dropMaterial() {
	k.signer, k.secret = nil, nil
	k.state, k.expirationModel, k.validTo = PendingImport, "", time.Time{}
}

// expireMaterial deletes k's imported material once its ValidTo has
// passed, as KMS does. The caller holds s.mu.
func (s *Server) expireMaterial(k *key) {
	if !k.validTo.IsZero() && !s.clock().Before(k.validTo) && k.state != PendingDeletion {
		k.dropMaterial()
	}
}
