package client

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Decrypter is a crypto.Decrypter for an RSA ENCRYPT_DECRYPT key: whoever
// holds Public encrypts with RSA-OAEP-SHA-256 (an SDK, a partner), and
// keygate decrypts inside its backend.
type Decrypter struct {
	c       *Client
	keyID   string
	version uint32
	pub     *rsa.PublicKey
}

// Decrypter returns a crypto.Decrypter for the RSA key keyID, bound to the
// key's current primary version.
func (c *Client) Decrypter(ctx context.Context, keyID string) (*Decrypter, error) {
	resp, err := c.Crypto.GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: keyID})
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(resp.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("client: key %s: public key: %w", keyID, err)
	}
	rp, ok := pub.(*rsa.PublicKey)
	if !ok || resp.KeyUsage != "ENCRYPT_DECRYPT" {
		return nil, fmt.Errorf("client: key %s is %s %s, not an RSA ENCRYPT_DECRYPT key", keyID, resp.KeySpec, resp.KeyUsage)
	}
	return &Decrypter{c: c, keyID: keyID, version: resp.KeyVersion, pub: rp}, nil
}

// Public is the key version's RSA public key.
func (d *Decrypter) Public() crypto.PublicKey { return d.pub }

// Decrypt decrypts an RSA-OAEP ciphertext made with Public; opts must be
// *rsa.OAEPOptions with SHA-256 and no label (what keygate's backends
// decrypt). rand is unused.
func (d *Decrypter) Decrypt(_ io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return d.DecryptContext(context.Background(), ciphertext, opts)
}

// DecryptContext is Decrypt under ctx.
func (d *Decrypter) DecryptContext(ctx context.Context, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	o, ok := opts.(*rsa.OAEPOptions)
	if !ok || o.Hash != crypto.SHA256 || len(o.Label) > 0 || (o.MGFHash != 0 && o.MGFHash != crypto.SHA256) {
		return nil, fmt.Errorf("client: key %s decrypts RSA-OAEP with SHA-256 and no label only", d.keyID)
	}
	// keygate's Decrypt takes a ciphertext that names its key version.
	ct := keys.Ciphertext{Key: d.keyID, Version: d.version, Algorithm: keys.RSAESOAEPSHA256, Blob: ciphertext}
	resp, err := d.c.Crypto.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: ct.Marshal(), KeyId: d.keyID,
		EncryptionAlgorithm: string(keys.RSAESOAEPSHA256)})
	if err != nil {
		return nil, err
	}
	return resp.Plaintext, nil
}
