package main

import (
	"context"
	"encoding/hex"
	"encoding/pem"
	"flag"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// deriveCommands run ECDH with a KEY_AGREEMENT key (`aws kms
// derive-shared-secret`), followed by the KDF the caller picks.
var deriveCommands = []*command{
	{path: "derive", args: []string{"NAME"}, summary: "ECDH with a peer public key, then a KDF (3DS Concat KDF by default)",
		detail: "The EMV 3DS session key: --kdf CONCAT_SHA256 --party-v-info 'SDK Reference Number'\n" +
			"(AlgorithmID and PartyUInfo empty, 256 bits). The peer key is checked on the\n" +
			"server: on the key's curve, not the point at infinity.",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.DeriveSharedSecretRequest{}
			file := fs.String("public-key-file", "", "peer public key: PEM, DER SubjectPublicKeyInfo or raw uncompressed point (\"-\" = stdin; required)")
			fs.StringVar(&req.Kdf, "kdf", "", "CONCAT_SHA256 (default), HKDF_SHA256, or RAW where the key allows it")
			fs.StringVar(&req.KeyAgreementAlgorithm, "key-agreement-algorithm", "", "ECDH (the only one, the default)")
			algID := fs.String("algorithm-id", "", "Concat KDF AlgorithmID (text)")
			partyU := fs.String("party-u-info", "", "Concat KDF PartyUInfo (text)")
			partyV := fs.String("party-v-info", "", "Concat KDF PartyVInfo (text), e.g. the SDK Reference Number or DS ID")
			salt := fs.String("salt-hex", "", "HKDF salt, hex")
			info := fs.String("info", "", "HKDF info (text)")
			bits := fs.Uint("key-length-bits", 0, "output length in bits for CONCAT_SHA256 and HKDF_SHA256 (default 256)")
			out := fs.String("out", "", "write the raw derived secret here (\"-\" = stdout) instead of base64 on stdout")
			return func(ctx context.Context, e *env, args []string) error {
				req.KeyId, req.KeyLengthBits = args[0], uint32(*bits)
				req.AlgorithmId, req.PartyUInfo, req.PartyVInfo, req.Info = bytesOf(*algID), bytesOf(*partyU), bytesOf(*partyV), bytesOf(*info)
				var err error
				if req.Salt, err = hex.DecodeString(*salt); err != nil {
					return usageErr("--salt-hex: %v", err)
				}
				pub, err := e.read("public-key-file", *file)
				if err != nil {
					return err
				}
				if req.PublicKey, err = peerKeyBytes(pub); err != nil {
					return err
				}
				resp, err := call(e.crypto, func(c pb.CryptoServiceClient) (*pb.DeriveSharedSecretResponse, error) {
					return c.DeriveSharedSecret(ctx, req)
				})
				if err != nil {
					return err
				}
				return e.emit(resp, "shared_secret", resp.SharedSecret, *out)
			}
		}},
}

// peerKeyBytes unwraps a PEM public key to DER; DER and raw points go to
// the server as they are, and the server validates them.
func peerKeyBytes(b []byte) ([]byte, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return b, nil
	}
	if block.Type != "PUBLIC KEY" {
		return nil, usageErr("--public-key-file: PEM block %q: want PUBLIC KEY", block.Type)
	}
	return block.Bytes, nil
}

// bytesOf keeps an empty flag empty (nil) rather than a zero-length value.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}
