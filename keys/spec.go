// Package keys is keygate's model of a key: the AWS KMS vocabulary (key
// specs, usages, algorithms), logical keys with versions and lifecycle
// states, the registry that stores them, and the domain error type.
//
// Names are KMS's, spelled as KMS spells them, so that a key policy
// condition such as kms:SigningAlgorithm means the same thing here as in KMS.
package keys

import (
	"crypto"
	"slices"
)

// Spec is a KMS KeySpec.
type Spec string

const (
	ECCNISTP256      Spec = "ECC_NIST_P256"
	ECCNISTP384      Spec = "ECC_NIST_P384"
	RSA2048          Spec = "RSA_2048"
	RSA3072          Spec = "RSA_3072"
	RSA4096          Spec = "RSA_4096"
	SymmetricDefault Spec = "SYMMETRIC_DEFAULT"
	HMAC256          Spec = "HMAC_256"
	HMAC384          Spec = "HMAC_384"
	HMAC512          Spec = "HMAC_512"
	// HMAC160 is a 160-bit SHA-1 HMAC key, for RFC 4226 HOTP (and RFC 6238
	// TOTP with SHA-1). Not KMS's: only PKCS#11 backends make it.
	HMAC160 Spec = "HMAC_160"
)

// Usage is a KMS KeyUsage.
type Usage string

const (
	SignVerify        Usage = "SIGN_VERIFY"
	EncryptDecrypt    Usage = "ENCRYPT_DECRYPT"
	GenerateVerifyMac Usage = "GENERATE_VERIFY_MAC"
	KeyAgreement      Usage = "KEY_AGREEMENT"
)

// SigningAlgorithm is a KMS SigningAlgorithmSpec.
type SigningAlgorithm string

const (
	ECDSASHA256          SigningAlgorithm = "ECDSA_SHA_256"
	ECDSASHA384          SigningAlgorithm = "ECDSA_SHA_384"
	RSASSAPSSSHA256      SigningAlgorithm = "RSASSA_PSS_SHA_256"
	RSASSAPSSSHA384      SigningAlgorithm = "RSASSA_PSS_SHA_384"
	RSASSAPSSSHA512      SigningAlgorithm = "RSASSA_PSS_SHA_512"
	RSASSAPKCS1V15SHA256 SigningAlgorithm = "RSASSA_PKCS1_V1_5_SHA_256"
	RSASSAPKCS1V15SHA384 SigningAlgorithm = "RSASSA_PKCS1_V1_5_SHA_384"
	RSASSAPKCS1V15SHA512 SigningAlgorithm = "RSASSA_PKCS1_V1_5_SHA_512"
)

// EncryptionAlgorithm is a KMS EncryptionAlgorithmSpec.
type EncryptionAlgorithm string

const (
	SymmetricDefaultAlg EncryptionAlgorithm = "SYMMETRIC_DEFAULT"
	RSAESOAEPSHA256     EncryptionAlgorithm = "RSAES_OAEP_SHA_256"
)

// MacAlgorithm is a KMS MacAlgorithmSpec.
type MacAlgorithm string

const (
	HMACSHA256 MacAlgorithm = "HMAC_SHA_256"
	HMACSHA384 MacAlgorithm = "HMAC_SHA_384"
	HMACSHA512 MacAlgorithm = "HMAC_SHA_512"
	// HMACSHA1 is HMAC_160's algorithm (RFC 4226); KMS has none.
	HMACSHA1 MacAlgorithm = "HMAC_SHA_1"
)

// KeyAgreementAlgorithm is a KMS KeyAgreementAlgorithmSpec.
type KeyAgreementAlgorithm string

const ECDH KeyAgreementAlgorithm = "ECDH"

// MessageType says whether Sign/Verify get the message or its digest.
type MessageType string

const (
	Raw    MessageType = "RAW"
	Digest MessageType = "DIGEST"
)

// MaxMessage is KMS's limit on a RAW message and on a plaintext.
const MaxMessage = 4096

var specs = map[Spec][]Usage{
	ECCNISTP256:      {SignVerify, KeyAgreement},
	ECCNISTP384:      {SignVerify, KeyAgreement},
	RSA2048:          {SignVerify, EncryptDecrypt},
	RSA3072:          {SignVerify, EncryptDecrypt},
	RSA4096:          {SignVerify, EncryptDecrypt},
	SymmetricDefault: {EncryptDecrypt},
	HMAC256:          {GenerateVerifyMac},
	HMAC384:          {GenerateVerifyMac},
	HMAC512:          {GenerateVerifyMac},
	HMAC160:          {GenerateVerifyMac},
}

// Valid reports whether s is a spec keygate supports.
func (s Spec) Valid() bool { _, ok := specs[s]; return ok }

// Allows reports whether a key of spec s may have usage u.
func (s Spec) Allows(u Usage) bool { return slices.Contains(specs[s], u) }

// IsEC, IsRSA, IsHMAC classify a spec by key type.
func (s Spec) IsEC() bool   { return s == ECCNISTP256 || s == ECCNISTP384 }
func (s Spec) IsRSA() bool  { return s == RSA2048 || s == RSA3072 || s == RSA4096 }
func (s Spec) IsHMAC() bool { return s == HMAC256 || s == HMAC384 || s == HMAC512 || s == HMAC160 }

// Valid reports whether u is a KMS key usage.
func (u Usage) Valid() bool {
	switch u {
	case SignVerify, EncryptDecrypt, GenerateVerifyMac, KeyAgreement:
		return true
	}
	return false
}

// SigningAlgorithms lists what a SIGN_VERIFY key of spec s can do.
func (s Spec) SigningAlgorithms() []SigningAlgorithm {
	switch {
	case s == ECCNISTP256:
		return []SigningAlgorithm{ECDSASHA256}
	case s == ECCNISTP384:
		return []SigningAlgorithm{ECDSASHA384}
	case s.IsRSA():
		return []SigningAlgorithm{RSASSAPSSSHA256, RSASSAPSSSHA384, RSASSAPSSSHA512,
			RSASSAPKCS1V15SHA256, RSASSAPKCS1V15SHA384, RSASSAPKCS1V15SHA512}
	}
	return nil
}

// EncryptionAlgorithms lists what an ENCRYPT_DECRYPT key of spec s can do.
func (s Spec) EncryptionAlgorithms() []EncryptionAlgorithm {
	switch {
	case s == SymmetricDefault:
		return []EncryptionAlgorithm{SymmetricDefaultAlg}
	case s.IsRSA():
		return []EncryptionAlgorithm{RSAESOAEPSHA256}
	}
	return nil
}

// MacAlgorithm is the one MAC algorithm of an HMAC spec.
func (s Spec) MacAlgorithm() MacAlgorithm {
	switch s {
	case HMAC256:
		return HMACSHA256
	case HMAC384:
		return HMACSHA384
	case HMAC512:
		return HMACSHA512
	case HMAC160:
		return HMACSHA1
	}
	return ""
}

// DigestSize is the digest length the algorithm signs.
func (a SigningAlgorithm) DigestSize() int {
	switch a {
	case ECDSASHA256, RSASSAPSSSHA256, RSASSAPKCS1V15SHA256:
		return 32
	case ECDSASHA384, RSASSAPSSSHA384, RSASSAPKCS1V15SHA384:
		return 48
	case RSASSAPSSSHA512, RSASSAPKCS1V15SHA512:
		return 64
	}
	return 0
}

// IsPSS reports whether a is an RSASSA-PSS algorithm (salt length = digest length).
func (a SigningAlgorithm) IsPSS() bool {
	return a == RSASSAPSSSHA256 || a == RSASSAPSSSHA384 || a == RSASSAPSSSHA512
}

// Hash is the hash function of a signing algorithm.
func (a SigningAlgorithm) Hash() crypto.Hash {
	switch a.DigestSize() {
	case 32:
		return crypto.SHA256
	case 48:
		return crypto.SHA384
	case 64:
		return crypto.SHA512
	}
	return 0
}

// Hash is the hash function of a MAC algorithm.
func (a MacAlgorithm) Hash() crypto.Hash {
	switch a {
	case HMACSHA256:
		return crypto.SHA256
	case HMACSHA384:
		return crypto.SHA384
	case HMACSHA512:
		return crypto.SHA512
	case HMACSHA1:
		return crypto.SHA1
	}
	return 0
}
