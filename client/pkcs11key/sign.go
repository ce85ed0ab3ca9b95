//go:build cgo

package pkcs11key

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	p11 "github.com/miekg/pkcs11"
)

// digestInfo is the DER prefix of PKCS#1 v1.5's DigestInfo for each hash
// TLS 1.2 and 1.3 sign with (RFC 8017, section 9.2, note 1).
var digestInfo = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

var pssHash = map[crypto.Hash][2]uint{
	crypto.SHA256: {p11.CKM_SHA256, p11.CKG_MGF1_SHA256},
	crypto.SHA384: {p11.CKM_SHA384, p11.CKG_MGF1_SHA384},
	crypto.SHA512: {p11.CKM_SHA512, p11.CKG_MGF1_SHA512},
}

// Sign signs digest in the token: ECDSA (returned DER-encoded, as
// crypto.Signer's callers expect), RSA PKCS#1 v1.5, or RSASSA-PSS when
// opts is *rsa.PSSOptions. rand is not used: the token draws its own.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h := opts.HashFunc()
	if _, ok := digestInfo[h]; !ok {
		return nil, fmt.Errorf("pkcs11: cannot sign with hash %v: SHA-256, SHA-384 or SHA-512", h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("pkcs11: the digest is %d bytes; %v needs %d", len(digest), h, h.Size())
	}
	var mech *p11.Mechanism
	in := digest
	switch pub := k.pub.(type) {
	case *ecdsa.PublicKey:
		mech = p11.NewMechanism(p11.CKM_ECDSA, nil)
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			salt := pss.SaltLength
			if salt == rsa.PSSSaltLengthEqualsHash || salt == rsa.PSSSaltLengthAuto {
				salt = h.Size()
			}
			if salt < 0 || salt > (pub.N.BitLen()+7)/8-h.Size()-2 {
				return nil, fmt.Errorf("pkcs11: PSS salt length %d is out of range", salt)
			}
			hm := pssHash[h]
			mech = p11.NewMechanism(p11.CKM_RSA_PKCS_PSS, p11.NewPSSParams(hm[0], hm[1], uint(salt)))
		} else {
			mech = p11.NewMechanism(p11.CKM_RSA_PKCS, nil)
			in = append(append([]byte(nil), digestInfo[h]...), digest...)
		}
	default:
		return nil, errors.New("pkcs11: the key is not open")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errors.New("pkcs11: the key is closed")
	}
	sig, err := k.signOnce(mech, in)
	if lost(err) {
		if rerr := k.reconnect(); rerr != nil {
			return nil, fmt.Errorf("pkcs11: %s: the session was lost (%v) and could not be restored: %w", k.uri.tokenName(), err, rerr)
		}
		sig, err = k.signOnce(mech, in)
	}
	if err != nil {
		return nil, fmt.Errorf("pkcs11: %s: %w", k.uri.tokenName(), err)
	}
	if _, ok := k.pub.(*ecdsa.PublicKey); ok {
		return derSignature(sig)
	}
	return sig, nil
}

func (k *Key) signOnce(mech *p11.Mechanism, in []byte) ([]byte, error) {
	if err := k.lib.SignInit(k.session, []*p11.Mechanism{mech}, k.priv); err != nil {
		return nil, fmt.Errorf("C_SignInit: %w", err)
	}
	sig, err := k.lib.Sign(k.session, in)
	if err != nil {
		return nil, fmt.Errorf("C_Sign: %w", err)
	}
	return sig, nil
}

// derSignature turns CKM_ECDSA's r||s into the DER that crypto/tls sends.
func derSignature(rs []byte) ([]byte, error) {
	if len(rs) == 0 || len(rs)%2 != 0 {
		return nil, fmt.Errorf("pkcs11: CKM_ECDSA returned %d bytes", len(rs))
	}
	half := len(rs) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(rs[:half]), new(big.Int).SetBytes(rs[half:])})
}
