package report

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/keygate/keygate/audit"
)

// ManifestDomain separates a manifest signature from anything else the
// audit checkpoint key signs (checkpoints use their own domain string), so
// that a signed manifest can never pass for a checkpoint.
const ManifestDomain = "keygate-report-manifest-v1\x00"

// MaxManifest bounds the manifest a server will sign.
const MaxManifest = 1 << 20

// ManifestDigest is what the checkpoint key signs for a manifest:
// SHA-256(ManifestDomain || manifest bytes).
func ManifestDigest(manifest []byte) []byte {
	h := sha256.New()
	h.Write([]byte(ManifestDomain))
	h.Write(manifest)
	return h.Sum(nil)
}

// ManifestFormat names the manifest's format.
const ManifestFormat = "keygate-evidence-pack-v1"

// Manifest lists the pack's files and what the pack covers. It is written
// as manifest.json; its signature (DER) as manifest.json.sig.
type Manifest struct {
	Format    string    `json:"format"`
	Generated time.Time `json:"generated"`
	Since     time.Time `json:"since"`
	Until     time.Time `json:"until"`
	// AuditHead is the last event of the log when the pack was made, and
	// Protected the last one a signed checkpoint vouched for.
	AuditHead struct {
		Seq       uint64 `json:"seq"`
		Hash      string `json:"hash"`
		Protected uint64 `json:"protected"`
	} `json:"audit_head"`
	KeyID string         `json:"key_id"` // the checkpoint key that signs the manifest
	Files []ManifestFile `json:"files"`
}

// ManifestFile is one file of the pack.
type ManifestFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Names of the manifest and its signature in the pack.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.json.sig"
)

// Verify checks a pack directory against the checkpoint public key (PEM):
// the manifest's signature, then every listed file's size and SHA-256, and
// that the directory holds no other file. It names the first problem.
func Verify(dir string, publicKeyPEM []byte) (*Manifest, error) {
	blk, _ := pem.Decode(publicKeyPEM)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("checkpoint key: no PEM \"PUBLIC KEY\" block")
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey: // RSA where the token has no EC (audit.signing_key_spec)
	default:
		return nil, fmt.Errorf("checkpoint key is %T, want ECDSA or RSA", pub)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	sig, err := os.ReadFile(filepath.Join(dir, SignatureName))
	if err != nil {
		return nil, err
	}
	if !audit.VerifySignature(pub, ManifestDigest(raw), sig) {
		return nil, errors.New("manifest.json: the signature does not verify under the checkpoint key: the manifest was altered or signed by another key")
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.Format != ManifestFormat {
		return nil, fmt.Errorf("manifest.json: not a %s manifest", ManifestFormat)
	}
	listed := map[string]bool{ManifestName: true, SignatureName: true}
	for _, f := range m.Files {
		listed[f.Name] = true
		sum, size, err := fileSum(filepath.Join(dir, f.Name))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if size != f.Size || sum != f.SHA256 {
			return nil, fmt.Errorf("%s: its SHA-256 is %s, the manifest says %s: the file was altered", f.Name, sum, f.SHA256)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if !listed[e.Name()] {
			return nil, fmt.Errorf("%s: not in the manifest: a file was added", e.Name())
		}
	}
	return &m, nil
}

func fileSum(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// manifestFiles lists the files written so far, by name.
func manifestFiles(dir string, names []string) ([]ManifestFile, error) {
	sort.Strings(names)
	out := make([]ManifestFile, 0, len(names))
	for _, n := range names {
		sum, size, err := fileSum(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		out = append(out, ManifestFile{Name: n, SHA256: sum, Size: size})
	}
	return out, nil
}
