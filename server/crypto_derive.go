package server

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/threeds"
)

// KDFs a DeriveSharedSecret caller can choose.
const (
	kdfConcat = "CONCAT_SHA256"
	kdfHKDF   = "HKDF_SHA256"
	kdfRaw    = "RAW"
)

func (cs *cryptoService) DeriveSharedSecret(ctx context.Context, req *pb.DeriveSharedSecretRequest) (*pb.DeriveSharedSecretResponse, error) {
	c := callOf(ctx)
	v, h, k := c.version, c.handle, c.Key.Key
	kdf := req.Kdf
	if kdf == "" {
		kdf = kdfConcat
	}
	bits := int(req.KeyLengthBits)
	if bits == 0 {
		bits = 256
	}
	if a := req.KeyAgreementAlgorithm; a != "" && a != string(keys.ECDH) {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "key_agreement_algorithm %q: want ECDH", a)
	}
	if err := checkKDF(k, kdf, bits, req); err != nil {
		return nil, err
	}
	peer, err := peerKey(k.Spec, req.PublicKey)
	if err != nil {
		return nil, err
	}
	z, err := h.DeriveSharedSecret(ctx, peer)
	if err != nil {
		return nil, err
	}
	var out []byte
	switch kdf {
	case kdfConcat:
		out = threeds.ConcatKDF(z, req.AlgorithmId, req.PartyUInfo, req.PartyVInfo, bits)
	case kdfHKDF:
		if out, err = hkdf.Key(sha256.New, z, req.Salt, string(req.Info), bits/8); err != nil {
			return nil, kgerr.Wrap(kgerr.Internal, err, "HKDF failed")
		}
	default:
		out = bytes.Clone(z)
	}
	clear(z)
	return &pb.DeriveSharedSecretResponse{KeyId: req.KeyId, KeyVersion: v.Number, SharedSecret: out, Kdf: kdf}, nil
}

func checkKDF(k *keys.Key, kdf string, bits int, req *pb.DeriveSharedSecretRequest) error {
	switch kdf {
	case kdfConcat, kdfHKDF:
		if bits%8 != 0 || bits < 128 || bits > 1024 {
			return kgerr.Errorf(kgerr.InvalidArgument, "key_length_bits must be a multiple of 8 from 128 to 1024")
		}
	case kdfRaw:
		if !k.AllowRawSecret {
			return kgerr.Errorf(kgerr.FailedPrecondition, "key %q does not allow the raw shared secret to leave; use CONCAT_SHA256 or HKDF_SHA256", k.Name)
		}
	default:
		return kgerr.Errorf(kgerr.InvalidArgument, "kdf %q: want CONCAT_SHA256, HKDF_SHA256 or RAW", kdf)
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"algorithm_id", req.AlgorithmId}, {"party_u_info", req.PartyUInfo}, {"party_v_info", req.PartyVInfo}, {"salt", req.Salt}, {"info", req.Info}} {
		if len(f.b) > maxKDFInfo {
			return kgerr.Errorf(kgerr.InvalidArgument, "%s is longer than %d bytes", f.name, maxKDFInfo)
		}
	}
	return nil
}

// peerKey parses and validates the peer's public key (DER SPKI or an
// uncompressed SEC 1 point) on the key's curve, before any ECDH: a point
// off the curve, at infinity, or on another curve is refused.
func peerKey(spec keys.Spec, b []byte) (*ecdh.PublicKey, error) {
	curve := ecdh.P256()
	if spec == keys.ECCNISTP384 {
		curve = ecdh.P384()
	}
	if len(b) == 0 || len(b) > 1024 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "public_key must be 1 to 1024 bytes")
	}
	if b[0] == 0x04 {
		pub, err := curve.NewPublicKey(b)
		if err != nil {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "public_key is not a valid point on %s", spec)
		}
		return pub, nil
	}
	parsed, err := x509.ParsePKIXPublicKey(b)
	if err != nil {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "public_key is neither an uncompressed EC point nor a DER SubjectPublicKeyInfo")
	}
	ec, ok := parsed.(*ecdsa.PublicKey)
	if !ok {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "public_key is not an EC key")
	}
	pub, err := ec.ECDH()
	if err != nil || pub.Curve() != curve {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "public_key is not a valid point on %s", spec)
	}
	return pub, nil
}
