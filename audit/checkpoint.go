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
// event Seq's hash was Head. Checkpoints chain too: checkpoint number
// Counter (1, 2, ...) names the Digest of number Counter-1 in Prev, so
// deleting the newest checkpoints leaves a chain that is shorter than the
// one the witnesses saw, and removing one in the middle breaks a link.
type Checkpoint struct {
	Counter   uint64   // 1 for the first chained checkpoint; 0 for one made before checkpoints chained
	Prev      [32]byte // Digest of checkpoint Counter-1 (zero for the first)
	Seq       uint64
	Head      [32]byte
	Time      time.Time // when it was signed, stored as UTC nanoseconds
	KeyID     string    // KeyID of the signer's public key
	Signature []byte
}

// The domain strings separate checkpoint digests from anything else the
// audit key might sign, and the two encodings from each other.
const (
	checkpointDomain   = "keygate-audit-checkpoint-v2\x00" // chained (Counter >= 1)
	checkpointDomainV1 = "keygate-audit-checkpoint-v1\x00" // before chaining (Counter 0)
)

// EncodeCheckpoint is the one definition of the bytes a checkpoint's
// signature covers (docs/AUDIT-FORMAT.md describes it from here). All
// integers are big-endian; str is a u32 length and the bytes.
//
//	Counter >= 1: "keygate-audit-checkpoint-v2" 0x00 | u64 counter | [32] prev |
//	              u64 seq | [32] head | i64 time (Unix ns) | str key id
//	Counter 0:    "keygate-audit-checkpoint-v1" 0x00 | u64 seq | [32] head |
//	              i64 time (Unix ns) | str key id
//
// Version 1 is only read: checkpoints signed before chaining still verify,
// but every new checkpoint is chained.
func EncodeCheckpoint(c *Checkpoint) []byte {
	b := make([]byte, 0, len(checkpointDomain)+8+32+8+32+8+4+len(c.KeyID))
	if c.Counter == 0 {
		b = append(b, checkpointDomainV1...)
	} else {
		b = append(b, checkpointDomain...)
		b = binary.BigEndian.AppendUint64(b, c.Counter)
		b = append(b, c.Prev[:]...)
	}
	b = binary.BigEndian.AppendUint64(b, c.Seq)
	b = append(b, c.Head[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixNano()))
	return appendStr(b, c.KeyID)
}

// Digest is SHA-256 over EncodeCheckpoint: what the audit key signs, and
// what the next checkpoint names as Prev.
func (c *Checkpoint) Digest() []byte {
	d := c.Hash()
	return d[:]
}

// Hash is Digest as an array.
func (c *Checkpoint) Hash() [32]byte { return sha256.Sum256(EncodeCheckpoint(c)) }

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

// signCheckpoint makes a checkpoint of head at time now, chained onto last
// (the zero Checkpoint when there is none).
func signCheckpoint(ctx context.Context, s Signer, keyID string, last *Checkpoint, head Head, now time.Time) (Checkpoint, error) {
	c := Checkpoint{Counter: last.Counter + 1, Seq: head.Seq, Head: head.Hash, Time: now.UTC(), KeyID: keyID}
	if last.Counter > 0 {
		c.Prev = last.Hash()
	}
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
