package keyring

import (
	"context"
	"crypto"
	"crypto/x509"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// ChainImport is what ImportChain checked and changed.
type ChainImport struct {
	Version uint32
	Leaf    *x509.Certificate
	// AnchorSet says the key's trust anchor was set by this import: given
	// as root, or, on a key's first import without one, the chain's own
	// self-signed root (trusted on first use, and recorded as such).
	AnchorSet bool
	Anchor    *x509.Certificate
}

// ImportChain stores version n's certificate chain (leaf first, each
// certificate signed by the next) after the checks an assessor expects,
// each refusal naming its check: the leaf certifies the version's own
// public key ("leaf key"); the chain verifies up to the key's trust
// anchor, or root when given ("trust anchor"); the leaf is valid now
// ("validity"); a signing key's leaf allows digitalSignature ("key
// usage"). root, when given, becomes the key's trust anchor.
func (r *Keyring) ImportChain(ctx context.Context, name string, n uint32, chain []*x509.Certificate, root *x509.Certificate) (*Entry, ChainImport, error) {
	if len(chain) == 0 {
		return nil, ChainImport{}, kgerr.Errorf(kgerr.InvalidArgument, "chain_pem holds no certificate")
	}
	e, err := r.Resolve(ctx, name)
	if err != nil {
		return nil, ChainImport{}, err
	}
	if n == 0 {
		p := e.Key.Primary()
		if p == nil {
			return nil, ChainImport{}, kgerr.Errorf(kgerr.FailedPrecondition, "key %q has no active version; name one", name)
		}
		n = p.Number
	}
	h, ok := e.Opened(n)
	if !ok || h.Public() == nil {
		if v := e.Key.Version(n); v == nil {
			return nil, ChainImport{}, kgerr.Errorf(kgerr.NotFound, "key %q has no version %d", name, n)
		}
		return nil, ChainImport{}, kgerr.Errorf(kgerr.FailedPrecondition, "key %q version %d has no public key to certify", name, n)
	}
	leaf := chain[0]
	res := ChainImport{Version: n, Leaf: leaf}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(h.Public()) {
		return nil, res, kgerr.Errorf(kgerr.InvalidArgument, "check leaf key: the leaf certificate does not certify key %q version %d", name, n)
	}
	now := r.now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, res, kgerr.Errorf(kgerr.InvalidArgument, "check validity: the leaf is valid from %s to %s, not now",
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if e.Key.Usage == keys.SignVerify && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, res, kgerr.Errorf(kgerr.InvalidArgument, "check key usage: the leaf does not allow digitalSignature")
	}
	anchors, err := anchorsOf(e.Key, root, chain, &res)
	if err != nil {
		return nil, res, err
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, a := range anchors {
		roots.AddCert(a)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, res, kgerr.Errorf(kgerr.InvalidArgument, "check trust anchor: the chain does not verify to the key's trust anchor: %v", err)
	}
	der := make([][]byte, len(chain))
	for i, c := range chain {
		der[i] = c.Raw
	}
	e, err = r.Update(ctx, name, func(k *keys.Key) error {
		v := k.Version(n)
		if v == nil {
			return kgerr.Errorf(kgerr.NotFound, "key %q has no version %d", name, n)
		}
		if err := needState(k, v, keys.VersionPendingActivation, keys.VersionActive, keys.VersionRetired); err != nil {
			return err
		}
		v.CertChain = der
		if res.AnchorSet {
			k.TrustAnchors = [][]byte{res.Anchor.Raw}
		}
		return nil
	})
	return e, res, err
}

// anchorsOf is what the chain must verify to: root if given (it becomes
// the key's anchor), else the key's anchors, else, on a key without any,
// the chain's own last certificate if it is a self-signed root.
func anchorsOf(k *keys.Key, root *x509.Certificate, chain []*x509.Certificate, res *ChainImport) ([]*x509.Certificate, error) {
	if root != nil {
		res.AnchorSet, res.Anchor = true, root
		return []*x509.Certificate{root}, nil
	}
	if len(k.TrustAnchors) > 0 {
		out := make([]*x509.Certificate, 0, len(k.TrustAnchors))
		for _, der := range k.TrustAnchors {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, kgerr.Wrap(kgerr.Internal, err, "key "+quote(k.Name)+" has a stored trust anchor that does not parse")
			}
			out = append(out, c)
		}
		return out, nil
	}
	last := chain[len(chain)-1]
	if len(chain) < 2 || !last.IsCA || last.CheckSignatureFrom(last) != nil {
		return nil, kgerr.Errorf(kgerr.InvalidArgument,
			"check trust anchor: key %q has no trust anchor and the chain does not end in a self-signed root; give the DS CA's root (--root)", k.Name)
	}
	res.AnchorSet, res.Anchor = true, last
	return []*x509.Certificate{last}, nil
}
