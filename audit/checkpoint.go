package audit

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Signer signs checkpoints with a key held in a backend (an HSM or KMS key
// of spec ECC_NIST_P256 used with ECDSA_SHA_256, or RSA with
// RSASSA_PSS_SHA_256), so that someone who can write the database still
// cannot rewrite history. Sign receives a SHA-256 digest and returns an
// ASN.1 DER ECDSA or an RSASSA-PSS signature.
type Signer interface {
	Sign(ctx context.Context, digest []byte) ([]byte, error)
	Public() crypto.PublicKey
}

// Checkpoint is a signed statement that the chain had Seq events and that
// event Seq's hash was Head.
type Checkpoint struct {
	Seq       uint64
	Head      [32]byte
	Time      time.Time // when it was signed, stored as UTC nanoseconds
	KeyID     string    // KeyID of the signer's public key
	Signature []byte
}

// checkpointDomain separates checkpoint digests from anything else the
// audit key might sign.
const checkpointDomain = "keygate-audit-checkpoint-v1\x00"

// Digest is SHA-256 over the checkpoint's canonical encoding:
// the domain string, u64 seq, [32] head, i64 time (Unix ns), str key id
// (u32 length and bytes), all big-endian.
func (c *Checkpoint) Digest() []byte {
	b := make([]byte, 0, len(checkpointDomain)+8+32+8+4+len(c.KeyID))
	b = append(b, checkpointDomain...)
	b = binary.BigEndian.AppendUint64(b, c.Seq)
	b = append(b, c.Head[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixNano()))
	b = appendStr(b, c.KeyID)
	d := sha256.Sum256(b)
	return d[:]
}

// KeyID names a public key: hex SHA-256 of its PKIX DER encoding. A
// verifier derives it from the key it was given, so the id in a checkpoint
// cannot point it at another key.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("audit: checkpoint public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// signCheckpoint makes a checkpoint of head at time now.
func signCheckpoint(ctx context.Context, s Signer, keyID string, head Head, now time.Time) (Checkpoint, error) {
	c := Checkpoint{Seq: head.Seq, Head: head.Hash, Time: now.UTC(), KeyID: keyID}
	sig, err := s.Sign(ctx, c.Digest())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: signing checkpoint at seq %d: %w", head.Seq, err)
	}
	c.Signature = sig
	return c, nil
}

// Verifier checks checkpoint signatures. It holds every audit key a log
// has used, current first, so a log that outlived a key rotation verifies.
type Verifier struct {
	keys map[string]crypto.PublicKey
	ids  []string
}

// NewVerifier accepts the checkpoint keys as *ecdsa.PublicKey or
// *rsa.PublicKey values, the current one first.
func NewVerifier(pubs ...crypto.PublicKey) (*Verifier, error) {
	if len(pubs) == 0 {
		return nil, errors.New("audit: no checkpoint public key")
	}
	v := &Verifier{keys: map[string]crypto.PublicKey{}}
	for _, pub := range pubs {
		if err := checkpointKey(pub); err != nil {
			return nil, err
		}
		id, err := KeyID(pub)
		if err != nil {
			return nil, err
		}
		if v.keys[id] == nil {
			v.keys[id] = pub
			v.ids = append(v.ids, id)
		}
	}
	return v, nil
}

// ParsePublicKeyPEM reads one or more "PUBLIC KEY" PEM blocks (PKIX), the
// current key first, into a Verifier.
func ParsePublicKeyPEM(b []byte) (*Verifier, error) {
	var pubs []crypto.PublicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("audit: checkpoint key %d: %w", len(pubs)+1, err)
		}
		pubs = append(pubs, pub)
	}
	if len(pubs) == 0 {
		return nil, errors.New("audit: checkpoint key: no PEM \"PUBLIC KEY\" block")
	}
	return NewVerifier(pubs...)
}

// KeyID is the id of the verifier's current (first) key.
func (v *Verifier) KeyID() string { return v.ids[0] }

// KeyIDs are the ids of all its keys, current first.
func (v *Verifier) KeyIDs() []string { return append([]string(nil), v.ids...) }

// Check reports whether c is signed by the key its KeyID names, and that
// key is one of the verifier's.
func (v *Verifier) Check(c *Checkpoint) bool {
	pub := v.keys[c.KeyID]
	return pub != nil && VerifySignature(pub, c.Digest(), c.Signature)
}
