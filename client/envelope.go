package client

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// An envelope is what Seal returns and Open takes, self-contained so it
// can be stored in one column beside the record it protects:
//
//	"KGE1" | len(wrapped data key) u16 BE | wrapped data key | nonce (12) | AES-256-GCM ciphertext and tag
//
// The wrapped data key is a keygate ciphertext that names its key version,
// so envelopes keep opening after the key is rotated.
var envelopeMagic = []byte("KGE1")

const nonceSize = 12

// Seal encrypts plaintext locally under a fresh AES-256 data key from
// GenerateDataKey on keyID, and keeps only the data key wrapped by keygate
// beside the ciphertext; the plaintext data key is zeroed before Seal
// returns. The encryption context binds the data key (keygate checks it
// at Open), and the envelope's header is GCM's additional data, so the
// wrapped key cannot be swapped under the ciphertext.
func (c *Client) Seal(ctx context.Context, keyID string, plaintext []byte, encryptionContext map[string]string) ([]byte, error) {
	resp, err := c.Crypto.GenerateDataKey(ctx, &pb.GenerateDataKeyRequest{KeyId: keyID, KeySpec: "AES_256", EncryptionContext: encryptionContext})
	if err != nil {
		return nil, err
	}
	defer clear(resp.Plaintext)
	if len(resp.CiphertextBlob) > 0xffff {
		return nil, errors.New("client: wrapped data key too large for an envelope")
	}
	aead, err := gcm(resp.Plaintext)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(envelopeMagic)+2+len(resp.CiphertextBlob)+len(plaintext)+aead.Overhead())
	out = append(out, envelopeMagic...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(resp.CiphertextBlob)))
	out = append(out, resp.CiphertextBlob...)
	return aead.Seal(out, nil, plaintext, out), nil // appends nonce, ciphertext and tag
}

// Open decrypts an envelope made by Seal with the same encryption context.
// The data key is unwrapped by keygate (audited, policy-checked) and
// zeroed after use. A wrong context or a changed envelope fails.
func (c *Client) Open(ctx context.Context, envelope []byte, encryptionContext map[string]string) ([]byte, error) {
	bad := errors.New("client: not a keygate envelope, or damaged")
	if len(envelope) < len(envelopeMagic)+2 || string(envelope[:len(envelopeMagic)]) != string(envelopeMagic) {
		return nil, bad
	}
	n := int(binary.BigEndian.Uint16(envelope[len(envelopeMagic):]))
	header := len(envelopeMagic) + 2 + n
	if len(envelope) < header+nonceSize {
		return nil, bad
	}
	resp, err := c.Crypto.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: envelope[len(envelopeMagic)+2 : header], EncryptionContext: encryptionContext})
	if err != nil {
		return nil, err
	}
	defer clear(resp.Plaintext)
	aead, err := gcm(resp.Plaintext)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, nil, envelope[header:], envelope[:header])
	if err != nil {
		return nil, bad
	}
	return pt, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("client: data key is %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	// The random-nonce form (nonce ‖ ciphertext ‖ tag, the envelope's
	// layout) is the one Go's FIPS 140-3 module approves for sealing.
	return cipher.NewGCMWithRandomNonce(b)
}
