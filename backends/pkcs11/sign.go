//go:build cgo

package pkcs11

import (
	"context"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// Sign signs a digest in the token. ECDSA signatures come back from
// CKM_ECDSA as r||s and are returned DER-encoded, as KMS returns them.
func (k *Key) Sign(ctx context.Context, alg keys.SigningAlgorithm, digest []byte) ([]byte, error) {
	if err := k.needUsage("Sign", keys.SignVerify); err != nil {
		return nil, err
	}
	if !signsWith(k.spec, alg) {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "signing algorithm %q is not valid for key spec %s", alg, k.spec)
	}
	if len(digest) != alg.DigestSize() {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "digest: %d bytes, %s needs %d", len(digest), alg, alg.DigestSize())
	}
	mech, in := mechECDSA, digest
	switch {
	case alg.IsPSS():
		mech = mechPSS[len(digest)]
	case k.spec.IsRSA():
		mech = mechRSAPKCS
		prefix := digestInfo[len(digest)]
		in = append(append(make([]byte, 0, len(prefix)+len(digest)), prefix...), digest...)
	}
	if err := k.b.canDo("Sign with "+string(alg), mech[0].Mechanism, p11.CKF_SIGN); err != nil {
		return nil, err
	}
	var sig []byte
	err := k.do(ctx, "sign", func(s p11.SessionHandle, h p11.ObjectHandle) (err error) {
		sig, err = k.signOnce(s, h, mech, in)
		return err
	})
	if err != nil || !k.spec.IsEC() {
		return sig, err
	}
	if len(sig) != 2*specSize(k.spec) {
		return nil, kgerr.Errorf(kgerr.Internal, "pkcs11 backend %q: key %s: CKM_ECDSA returned %d bytes", k.b.name, k.id, len(sig))
	}
	return derSignature(sig), nil
}

// signsWith reports whether a key of spec s signs with alg.
func signsWith(s keys.Spec, alg keys.SigningAlgorithm) bool {
	switch alg {
	case keys.ECDSASHA256:
		return s == keys.ECCNISTP256
	case keys.ECDSASHA384:
		return s == keys.ECCNISTP384
	}
	return s.IsRSA() && alg.DigestSize() > 0
}

// derSignature encodes r||s as the DER SEQUENCE { INTEGER r, INTEGER s }.
// Lengths stay below 128 for the curves keygate supports (P-384: at most
// 2*(2+49) content bytes), so every length is one byte.
func derSignature(rs []byte) []byte {
	half := len(rs) / 2
	r, s := trimZeros(rs[:half]), trimZeros(rs[half:])
	rLen, sLen := len(r)+int(r[0]>>7), len(s)+int(s[0]>>7)
	out := make([]byte, 0, 6+rLen+sLen)
	out = append(out, 0x30, byte(4+rLen+sLen))
	out = appendInt(out, r, rLen)
	return appendInt(out, s, sLen)
}

// trimZeros drops leading zero bytes, keeping at least one byte.
func trimZeros(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// appendInt appends an INTEGER of n content bytes: v, after a zero byte if
// v's top bit is set (DER integers are two's complement).
func appendInt(out, v []byte, n int) []byte {
	out = append(out, 0x02, byte(n))
	if n > len(v) {
		out = append(out, 0)
	}
	return append(out, v...)
}

// MAC computes an HMAC in the token with the key's one MAC algorithm.
func (k *Key) MAC(ctx context.Context, alg keys.MacAlgorithm, msg []byte) ([]byte, error) {
	if err := k.needUsage("MAC", keys.GenerateVerifyMac); err != nil {
		return nil, err
	}
	if alg != k.spec.MacAlgorithm() {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "MAC algorithm %q is not valid for key spec %s", alg, k.spec)
	}
	mech := mechHMAC[alg]
	if err := k.b.canDo(string(alg), mech[0].Mechanism, p11.CKF_SIGN); err != nil {
		return nil, err
	}
	var mac []byte
	err := k.do(ctx, "MAC", func(s p11.SessionHandle, h p11.ObjectHandle) (err error) {
		mac, err = k.signOnce(s, h, mech, msg)
		return err
	})
	if err == nil && len(mac) != alg.Hash().Size() {
		return nil, kgerr.Wrap(kgerr.Internal, fmt.Errorf("HMAC of %d bytes", len(mac)),
			fmt.Sprintf("pkcs11 backend %q: key %s: unexpected MAC length", k.b.name, k.id))
	}
	return mac, err
}
