package server

import (
	"context"
	"crypto"
	"crypto/x509"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/threeds"
)

// maxDSKeys bounds key_ids and kids in one request.
const maxDSKeys = 16

// SetDsKeyIds sets the kids of a DS encryption key version.
func (ts *threeDSService) SetDsKeyIds(ctx context.Context, req *pb.SetDsKeyIdsRequest) (*pb.SetDsKeyIdsResponse, error) {
	c := callOf(ctx)
	if len(req.Kids) > maxDSKeys {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "kids: at most %d", maxDSKeys)
	}
	e := c.Key
	if k := e.Key; !(k.Usage == keys.EncryptDecrypt && k.Spec.IsRSA() || k.Usage == keys.KeyAgreement && k.Spec == keys.ECCNISTP256) {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q is %s %s; a DS key is RSA ENCRYPT_DECRYPT or ECC_NIST_P256 KEY_AGREEMENT", k.Name, k.Spec, k.Usage)
	}
	n, err := versionOf(e, req.Version)
	if err != nil {
		return nil, err
	}
	if err := ts.meta.SetKids(ctx, req.KeyId, n, req.Kids); err != nil {
		return nil, err
	}
	c.Version = n
	c.Detail = "version " + strconv.FormatUint(uint64(n), 10) + " kids: " + strings.Join(req.Kids, ", ")
	return &pb.SetDsKeyIdsResponse{KeyId: req.KeyId, Version: n, Kids: req.Kids}, nil
}

// ImportAcsChain attaches a DS's chain to an ACS key version, checked as
// ImportCertificate checks the default chain.
func (ts *threeDSService) ImportAcsChain(ctx context.Context, req *pb.ImportAcsChainRequest) (*pb.ImportAcsChainResponse, error) {
	c := callOf(ctx)
	e := c.Key
	n, err := versionOf(e, req.Version)
	if err != nil {
		return nil, err
	}
	h, ok := e.Opened(n)
	if !ok || h.Public() == nil || e.Key.Usage != keys.SignVerify {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q version %d is not a signing key with a public key to certify", req.KeyId, n)
	}
	chain, err := parseChain(req.ChainPem)
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	if pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(h.Public()) {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "check leaf key: the leaf certificate does not certify key %q version %d", req.KeyId, n)
	}
	if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "check validity: the leaf is valid from %s to %s, not now",
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "check key usage: the leaf does not allow digitalSignature")
	}
	der := make([][]byte, len(chain))
	for i, cert := range chain {
		der[i] = cert.Raw
	}
	if err := ts.meta.PutChain(ctx, req.KeyId, n, req.Ds, der); err != nil {
		return nil, err
	}
	c.Version = n
	c.Detail = "version " + strconv.FormatUint(uint64(n), 10) + ", DS " + req.Ds + ": " + chain[0].Subject.String() + ", serial " + chain[0].SerialNumber.Text(16)
	return &pb.ImportAcsChainResponse{KeyId: req.KeyId, Version: n, Ds: req.Ds, LeafSubject: chain[0].Subject.String(),
		CertificateCount: uint32(len(der))}, nil
}

// versionOf is version n of the key, or its primary for 0.
func versionOf(e *keyring.Entry, n uint32) (uint32, error) {
	if n == 0 {
		p := e.Key.Primary()
		if p == nil {
			return 0, kgerr.Errorf(kgerr.FailedPrecondition, "key %q has no active version; name one", e.Key.Name)
		}
		return p.Number, nil
	}
	if e.Key.Version(n) == nil {
		return 0, kgerr.Errorf(kgerr.NotFound, "key %q has no version %d", e.Key.Name, n)
	}
	return n, nil
}

// dsKey picks the DS key version for an sdkEncData. With a kid in its
// header that names a registered key version (within key_id or key_ids
// when given), that version; with key_id, else, key_id's primary. kid is
// set when the kid chose, so a refusal can be the kid's NotFound.
func (ts *threeDSService) dsKey(ctx context.Context, req *pb.DecryptSdkEncDataRequest) (name string, n uint32, kid string, err error) {
	if len(req.KeyIds) > maxDSKeys {
		return "", 0, "", kgerr.Errorf(kgerr.InvalidArgument, "key_ids: at most %d", maxDSKeys)
	}
	if req.KeyId != "" && len(req.KeyIds) > 0 {
		return "", 0, "", kgerr.Errorf(kgerr.InvalidArgument, "set key_id or key_ids, not both")
	}
	if kid, err = threeds.SdkEncKid(req.Jwe); err != nil {
		if req.KeyId != "" {
			return req.KeyId, 0, "", nil // the JWE's own error comes after the key's checks
		}
		return "", 0, "", err
	}
	if kid == "" {
		switch {
		case req.KeyId != "":
			return req.KeyId, 0, "", nil
		case len(req.KeyIds) == 1:
			return req.KeyIds[0], 0, "", nil
		}
		return "", 0, "", kgerr.Errorf(kgerr.InvalidArgument, "the sdkEncData header has no kid: name the DS key in key_id")
	}
	owner, v, err := ts.meta.KidOwner(ctx, kid)
	if err != nil && (kgerr.KindOf(err) != kgerr.NotFound || req.KeyId == "") {
		return "", 0, "", err
	}
	if err == nil && (req.KeyId == "" && len(req.KeyIds) == 0 || owner == req.KeyId || slices.Contains(req.KeyIds, owner)) {
		return owner, v, kid, nil
	}
	if req.KeyId != "" {
		return req.KeyId, 0, "", nil // a kid of no version of key_id: its primary, as before kids
	}
	return "", 0, "", threeds.NoKidError(kid)
}
