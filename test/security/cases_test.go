package security

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

const (
	crypto  = "/keygate.v1.CryptoService/"
	admin   = "/keygate.v1.KeyAdminService/"
	auditS  = "/keygate.v1.AuditService/"
	policyS = "/keygate.v1.PolicyService/"
	tds     = "/keygate.v1.ThreeDSService/"
)

func bc(name, as, method string, req proto.Message, code codes.Code, says string) badCase {
	return badCase{name: name, as: as, method: method, req: req, code: code, says: says}
}

// handWritten are requests that are well-formed field by field and wrong
// as a whole: the wrong key, algorithm, size, right or state.
func handWritten() []badCase {
	m := []byte("message")
	d32 := make([]byte, 32)
	pd := codes.PermissionDenied
	ia := codes.InvalidArgument
	fp := codes.FailedPrecondition
	notAuth := "is not authorized to perform"
	p256 := append([]byte{4}, make([]byte, 64)...) // the point (0, 0): not on the curve
	return []badCase{
		// CryptoService
		bc("sign: a 1 MiB request", "acs", crypto+"Sign", &pb.SignRequest{KeyId: "acs-signing", Message: make([]byte, 1<<20)}, codes.ResourceExhausted, "larger than max"),
		bc("sign: no key_id", "acs", crypto+"Sign", &pb.SignRequest{Message: m}, ia, "key_id is required"),
		bc("sign: unknown key", "acs", crypto+"Sign", &pb.SignRequest{KeyId: "no-such-key", Message: m}, codes.NotFound, "no-such-key"),
		bc("sign: empty message", "acs", crypto+"Sign", &pb.SignRequest{KeyId: "acs-signing"}, ia, "message must be 1 to 4096"),
		bc("sign: 4097-byte message", "acs", crypto+"Sign", &pb.SignRequest{KeyId: "acs-signing", Message: make([]byte, 4097)}, ia, "4096"),
		bc("sign: 31-byte digest", "acs", crypto+"Sign", &pb.SignRequest{KeyId: "acs-signing", Message: d32[:31], MessageType: "DIGEST"}, ia, "32-byte digest"),
		bc("sign: RSA algorithm on EC key", "acs", crypto+"Sign", &pb.SignRequest{KeyId: "acs-signing", Message: m, SigningAlgorithm: "RSASSA_PSS_SHA_256"}, ia, "signing_algorithm"),
		bc("sign: unknown message type", "acs", crypto+"Sign", &pb.SignRequest{KeyId: "acs-signing", Message: m, MessageType: "HASH"}, ia, "message_type"),
		bc("sign: MAC key", "acs", crypto+"Sign", &pb.SignRequest{KeyId: "av-mac", Message: m}, fp, "GENERATE_VERIFY_MAC"),
		bc("sign: unmapped identity", "stranger", crypto+"Sign", &pb.SignRequest{KeyId: "acs-signing", Message: m}, pd, "not mapped"),
		bc("sign: the audit checkpoint key", "admin", crypto+"Sign", &pb.SignRequest{KeyId: "audit-checkpoint", Message: m}, pd, notAuth),
		bc("verify: empty signature", "acs", crypto+"Verify", &pb.VerifyRequest{KeyId: "acs-signing", Message: m}, ia, "signature must be 1 to 1024"),
		bc("verify: 2 KB signature", "acs", crypto+"Verify", &pb.VerifyRequest{KeyId: "acs-signing", Message: m, Signature: make([]byte, 2048)}, ia, "signature"),
		bc("verify: version 99", "acs", crypto+"Verify", &pb.VerifyRequest{KeyId: "acs-signing", KeyVersion: 99, Message: m, Signature: m}, codes.NotFound, "no version 99"),
		bc("public key of a symmetric key", "acs", crypto+"GetPublicKey", &pb.GetPublicKeyRequest{KeyId: "data-key"}, fp, "symmetric"),
		bc("encrypt: empty plaintext", "acs", crypto+"Encrypt", &pb.EncryptRequest{KeyId: "data-key"}, ia, "plaintext"),
		bc("encrypt: 4097-byte plaintext", "acs", crypto+"Encrypt", &pb.EncryptRequest{KeyId: "data-key", Plaintext: make([]byte, 4097)}, ia, "plaintext"),
		bc("encrypt: sign key", "acs", crypto+"Encrypt", &pb.EncryptRequest{KeyId: "acs-signing", Plaintext: m}, fp, "SIGN_VERIFY"),
		bc("encrypt: RSA algorithm on AES key", "acs", crypto+"Encrypt", &pb.EncryptRequest{KeyId: "data-key", Plaintext: m, EncryptionAlgorithm: "RSAES_OAEP_SHA_256"}, ia, "encryption_algorithm"),
		bc("encrypt: empty context key", "acs", crypto+"Encrypt", &pb.EncryptRequest{KeyId: "data-key", Plaintext: m, EncryptionContext: map[string]string{"": "v"}}, ia, "empty key"),
		bc("encrypt: reserved context key", "acs", crypto+"Encrypt", &pb.EncryptRequest{KeyId: "data-key", Plaintext: m, EncryptionContext: map[string]string{"keygate:key-name": "x"}}, ia, "reserved"),
		bc("encrypt: 65 context pairs", "acs", crypto+"Encrypt", &pb.EncryptRequest{KeyId: "data-key", Plaintext: m, EncryptionContext: pairs(65)}, ia, "at most 64"),
		bc("decrypt: no ciphertext", "acs", crypto+"Decrypt", &pb.DecryptRequest{}, ia, "ciphertext_blob"),
		bc("decrypt: garbage", "acs", crypto+"Decrypt", &pb.DecryptRequest{CiphertextBlob: []byte("garbage!!garbage")}, ia, "not a keygate ciphertext"),
		bc("decrypt: header of an unknown format", "acs", crypto+"Decrypt", &pb.DecryptRequest{CiphertextBlob: []byte("KG\x09\x00\x01k\x00\x00\x00\x01\x01blob")}, ia, "not a keygate ciphertext"),
		bc("decrypt: forged header and blob", "acs", crypto+"Decrypt", &pb.DecryptRequest{CiphertextBlob: append([]byte("KG\x02\x00\x08data-key\x00\x00\x00\x01\x01"), make([]byte, 40)...)}, ia, "could not be decrypted"),
		bc("decrypt: key_id naming another key", "acs", crypto+"Decrypt", &pb.DecryptRequest{KeyId: "other", CiphertextBlob: append([]byte("KG\x02\x00\x08data-key\x00\x00\x00\x01\x01"), make([]byte, 40)...)}, ia, "was not made by key"),
		bc("data key: both sizes", "acs", crypto+"GenerateDataKey", &pb.GenerateDataKeyRequest{KeyId: "data-key", KeySpec: "AES_256", NumberOfBytes: 32}, ia, "not both"),
		bc("data key: 2048 bytes", "acs", crypto+"GenerateDataKey", &pb.GenerateDataKeyRequest{KeyId: "data-key", NumberOfBytes: 2048}, ia, "number_of_bytes"),
		bc("data key: unknown spec", "acs", crypto+"GenerateDataKey", &pb.GenerateDataKeyRequest{KeyId: "data-key", KeySpec: "DES"}, ia, "key_spec"),
		bc("mac: wrong algorithm", "acs", crypto+"GenerateMac", &pb.GenerateMacRequest{KeyId: "av-mac", Message: m, MacAlgorithm: "HMAC_SHA_512"}, ia, "mac_algorithm"),
		bc("mac: empty message", "acs", crypto+"GenerateMac", &pb.GenerateMacRequest{KeyId: "av-mac"}, ia, "message"),
		bc("verify mac: 65-byte mac", "acs", crypto+"VerifyMac", &pb.VerifyMacRequest{KeyId: "av-mac", Message: m, Mac: make([]byte, 65)}, ia, "mac must be"),
		bc("derive: off-curve point", "ds", crypto+"DeriveSharedSecret", &pb.DeriveSharedSecretRequest{KeyId: "ds-ecdh", PublicKey: p256}, ia, "not a valid point"),
		bc("derive: not a key", "ds", crypto+"DeriveSharedSecret", &pb.DeriveSharedSecretRequest{KeyId: "ds-ecdh", PublicKey: []byte("xyz")}, ia, "public_key"),
		bc("derive: raw secret not allowed", "ds", crypto+"DeriveSharedSecret", &pb.DeriveSharedSecretRequest{KeyId: "ds-ecdh", Kdf: "RAW", PublicKey: p256}, fp, "raw shared secret"),
		bc("derive: 100-bit key", "ds", crypto+"DeriveSharedSecret", &pb.DeriveSharedSecretRequest{KeyId: "ds-ecdh", KeyLengthBits: 100, PublicKey: p256}, ia, "key_length_bits"),
		bc("derive: unknown KDF", "ds", crypto+"DeriveSharedSecret", &pb.DeriveSharedSecretRequest{KeyId: "ds-ecdh", Kdf: "MD5", PublicKey: p256}, ia, "kdf"),

		// KeyAdminService
		bc("create: as a service", "acs", admin+"CreateKey", &pb.CreateKeyRequest{KeyId: "x", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"}, pd, "kms:CreateKey"),
		bc("create: adopt without the right", "admin", admin+"CreateKey", &pb.CreateKeyRequest{KeyId: "x", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", BackendKeyId: "00"}, pd, "keygate:AdoptKey"),
		bc("create: existing name", "admin", admin+"CreateKey", &pb.CreateKeyRequest{KeyId: "data-key", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"}, codes.AlreadyExists, "already exists"),
		bc("create: the checkpoint key's name", "admin", admin+"CreateKey", &pb.CreateKeyRequest{KeyId: "audit-checkpoint", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"}, pd, notAuth),
		bc("create: unknown spec", "admin", admin+"CreateKey", &pb.CreateKeyRequest{KeyId: "x", KeySpec: "DES", KeyUsage: "ENCRYPT_DECRYPT"}, ia, "key_spec"),
		bc("create: usage the spec forbids", "admin", admin+"CreateKey", &pb.CreateKeyRequest{KeyId: "x", KeySpec: "HMAC_256", KeyUsage: "SIGN_VERIFY"}, ia, "not allowed"),
		bc("create: unknown backend", "admin", admin+"CreateKey", &pb.CreateKeyRequest{KeyId: "x", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", Backend: "nope"}, ia, "backend"),
		bc("create: policy not JSON", "admin", admin+"CreateKey", &pb.CreateKeyRequest{KeyId: "x", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", Policy: "{"}, ia, "policy"),
		bc("create: policy locking admins out", "admin", admin+"CreateKey", &pb.CreateKeyRequest{KeyId: "x", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC",
			Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/acs"},"Action":"kms:Sign","Resource":"*"}]}`}, fp, ""),
		bc("create: raw secret on a MAC key", "admin", admin+"CreateKey", &pb.CreateKeyRequest{KeyId: "x", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", AllowRawSharedSecret: true}, ia, "allow_raw_shared_secret"),
		bc("describe: as a service", "acs", admin+"DescribeKey", &pb.DescribeKeyRequest{KeyId: "data-key"}, pd, notAuth),
		bc("describe: unknown key", "admin", admin+"DescribeKey", &pb.DescribeKeyRequest{KeyId: "nope"}, codes.NotFound, "nope"),
		bc("list: as a service", "acs", admin+"ListKeys", &pb.ListKeysRequest{}, pd, "kms:ListKeys"),
		bc("list: page of 1001", "admin", admin+"ListKeys", &pb.ListKeysRequest{PageSize: 1001}, ia, "page_size"),
		bc("disable: as a service", "acs", admin+"DisableKey", &pb.DisableKeyRequest{KeyId: "data-key"}, pd, notAuth),
		bc("disable: the checkpoint key", "admin", admin+"DisableKey", &pb.DisableKeyRequest{KeyId: "audit-checkpoint"}, pd, notAuth),
		bc("enable: unknown key", "admin", admin+"EnableKey", &pb.EnableKeyRequest{KeyId: "nope"}, codes.NotFound, "nope"),
		bc("policy: as a service", "acs", admin+"GetKeyPolicy", &pb.GetKeyPolicyRequest{KeyId: "data-key"}, pd, notAuth),
		bc("put policy: empty", "admin", admin+"PutKeyPolicy", &pb.PutKeyPolicyRequest{KeyId: "data-key"}, ia, "policy is required"),
		bc("put policy: not JSON", "admin", admin+"PutKeyPolicy", &pb.PutKeyPolicyRequest{KeyId: "data-key", Policy: "[]"}, ia, "policy"),
		bc("put policy: the checkpoint key", "admin", admin+"PutKeyPolicy", &pb.PutKeyPolicyRequest{KeyId: "audit-checkpoint", Policy: "{}", BypassPolicyLockoutSafetyCheck: true}, pd, notAuth),
		bc("put policy: as a service", "acs", admin+"PutKeyPolicy", &pb.PutKeyPolicyRequest{KeyId: "data-key", Policy: "{}"}, pd, notAuth),
		bc("import cert: no PEM", "admin", admin+"ImportCertificate", &pb.ImportCertificateRequest{KeyId: "acs-signing", ChainPem: "hello"}, ia, "no PEM certificate"),
		bc("import cert: a key block", "admin", admin+"ImportCertificate", &pb.ImportCertificateRequest{KeyId: "acs-signing", ChainPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, ia, "PRIVATE KEY"),
		bc("import cert: broken DER", "admin", admin+"ImportCertificate", &pb.ImportCertificateRequest{KeyId: "acs-signing", ChainPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, ia, "does not parse"),
		bc("import cert: symmetric key", "admin", admin+"ImportCertificate", &pb.ImportCertificateRequest{KeyId: "data-key", ChainPem: "x"}, fp, "no public key"),
		bc("import cert: as a service", "acs", admin+"ImportCertificate", &pb.ImportCertificateRequest{KeyId: "acs-signing", ChainPem: "x"}, pd, notAuth),
		bc("get cert: none imported", "admin", admin+"GetCertificate", &pb.GetCertificateRequest{KeyId: "acs-signing"}, codes.NotFound, "no certificate chain"),
		bc("get cert: version 9", "admin", admin+"GetCertificate", &pb.GetCertificateRequest{KeyId: "acs-signing", Version: 9}, codes.NotFound, "no such version"),

		// AuditService
		bc("events: as a service", "acs", auditS+"ListEvents", &pb.ListEventsRequest{}, pd, "keygate:ReadAuditLog"),
		bc("events: unmapped identity", "stranger", auditS+"ListEvents", &pb.ListEventsRequest{}, pd, "not mapped"),
		bc("events: page of 1001", "admin", auditS+"ListEvents", &pb.ListEventsRequest{PageSize: 1001}, ia, "page_size"),
		bc("events: page token not a number", "admin", auditS+"ListEvents", &pb.ListEventsRequest{PageToken: "abc"}, ia, "page_token"),
		bc("events: negative-looking token", "admin", auditS+"ListEvents", &pb.ListEventsRequest{PageToken: "-1"}, ia, "page_token"),
		bc("events: token past uint64", "admin", auditS+"ListEvents", &pb.ListEventsRequest{PageToken: "99999999999999999999999"}, ia, "page_token"),
		bc("tail: as a service", "acs", auditS+"TailEvents", &pb.TailEventsRequest{}, pd, "keygate:ReadAuditLog"),
		bc("verify: as a service", "ds", auditS+"VerifyLog", &pb.VerifyLogRequest{}, pd, "keygate:ReadAuditLog"),
		bc("checkpoint key: as a service", "ds", auditS+"GetCheckpointKey", &pb.GetCheckpointKeyRequest{}, pd, "keygate:ReadAuditLog"),
		bc("export: as a service", "acs", auditS+"ExportArchive", &pb.ExportArchiveRequest{Until: timestamppb.Now()}, pd, "keygate:ReadAuditLog"),
		bc("export: no until", "admin", auditS+"ExportArchive", &pb.ExportArchiveRequest{}, ia, "until is required"),

		// PolicyService
		bc("simulate: as a service", "acs", policyS+"SimulatePolicy", &pb.SimulatePolicyRequest{KeyId: "data-key", PrincipalArn: "x", Action: "kms:Encrypt"}, pd, notAuth),
		bc("simulate: no principal", "admin", policyS+"SimulatePolicy", &pb.SimulatePolicyRequest{KeyId: "data-key", Action: "kms:Encrypt"}, ia, "principal_arn"),
		bc("simulate: no action", "admin", policyS+"SimulatePolicy", &pb.SimulatePolicyRequest{KeyId: "data-key", PrincipalArn: "arn:aws:iam::111122223333:role/acs"}, ia, "action"),
		bc("simulate: source ip not an IP", "admin", policyS+"SimulatePolicy", &pb.SimulatePolicyRequest{KeyId: "data-key", PrincipalArn: "arn:aws:iam::111122223333:role/acs", Action: "kms:Encrypt", SourceIp: "10.0.0.300"}, ia, "source_ip"),
		bc("simulate: unknown key", "admin", policyS+"SimulatePolicy", &pb.SimulatePolicyRequest{KeyId: "nope", PrincipalArn: "x", Action: "kms:Encrypt"}, codes.NotFound, "nope"),
		bc("diff: as a service", "acs", policyS+"DiffKeyPolicy", &pb.DiffKeyPolicyRequest{KeyId: "data-key"}, pd, notAuth),
		bc("diff: a PKCS#11 key", "admin", policyS+"DiffKeyPolicy", &pb.DiffKeyPolicyRequest{KeyId: "data-key"}, fp, "keeps no key policy"),
		bc("push: as a service", "acs", policyS+"PushKeyPolicy", &pb.PushKeyPolicyRequest{KeyId: "data-key"}, pd, notAuth),
		bc("push: a PKCS#11 key", "admin", policyS+"PushKeyPolicy", &pb.PushKeyPolicyRequest{KeyId: "data-key"}, fp, "keeps no key policy"),
		bc("push: the checkpoint key", "admin", policyS+"PushKeyPolicy", &pb.PushKeyPolicyRequest{KeyId: "audit-checkpoint"}, pd, notAuth),

		// ThreeDSService
		bc("session: MAC key", "acs", tds+"CreateAcsSession", &pb.CreateAcsSessionRequest{KeyId: "av-mac"}, fp, "GENERATE_VERIFY_MAC"),
		bc("session: unknown key", "acs", tds+"CreateAcsSession", &pb.CreateAcsSessionRequest{KeyId: "nope"}, codes.NotFound, "nope"),
		bc("session: as the DS", "stranger", tds+"CreateAcsSession", &pb.CreateAcsSessionRequest{KeyId: "acs-signing"}, pd, "not mapped"),
		bc("session: no certificate chain", "acs", tds+"CreateAcsSession", &pb.CreateAcsSessionRequest{KeyId: "acs-signing"}, fp, "no certificate chain"),
		bc("creq: no session id", "acs", tds+"DecryptChallengeRequest", &pb.DecryptChallengeRequestRequest{Jwe: "a.b.c.d.e"}, ia, "session_id"),
		bc("creq: unmapped identity", "stranger", tds+"DecryptChallengeRequest", &pb.DecryptChallengeRequestRequest{SessionId: "s", Jwe: "x"}, pd, "not mapped"),
		bc("cres: no session id", "acs", tds+"EncryptChallengeResponse", &pb.EncryptChallengeResponseRequest{Cres: []byte("{}")}, ia, "session_id"),
		bc("sdkenc: sign key", "ds", tds+"DecryptSdkEncData", &pb.DecryptSdkEncDataRequest{KeyId: "acs-signing", Jwe: "x"}, fp, "sdkEncData needs"),
		bc("sdkenc: EC key without a DS id", "ds", tds+"DecryptSdkEncData", &pb.DecryptSdkEncDataRequest{KeyId: "ds-ecdh", Jwe: "x"}, ia, "ds_id"),
		bc("sdkenc: 65-character DS id", "ds", tds+"DecryptSdkEncData", &pb.DecryptSdkEncDataRequest{KeyId: "ds-ecdh", Jwe: "x", DsId: strings.Repeat("A", 65)}, ia, "ds_id"),
		bc("sdkenc: not a JWE", "ds", tds+"DecryptSdkEncData", &pb.DecryptSdkEncDataRequest{KeyId: "ds-ecdh", Jwe: "x", DsId: "A000000802"}, ia, ""),
	}
}

func pairs(n int) map[string]string {
	out := map[string]string{}
	for i := range n {
		out[strings.Repeat("k", i+1)] = "v"
	}
	return out
}
