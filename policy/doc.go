// Package policy implements AWS KMS key policies for keygate: it parses
// and validates key-policy JSON by KMS's rules, compiles it into an
// evaluator with IAM's semantics, and compares documents semantically.
//
// The server's use, once per key version and once per call:
//
//	p, err := policy.Parse(doc)       // *kgerr.Error InvalidArgument listing every problem
//	...
//	d := p.Evaluate(&policy.Request{  // no allocation; safe for concurrent use
//		Principal:        "arn:aws:iam::111122223333:role/acs",
//		Action:           "kms:Sign",
//		Resource:         "arn:aws:kms:eu-west-1:111122223333:key/acs-signing",
//		SigningAlgorithm: keys.ECDSASHA256,
//		SourceIP:         peer,
//		CurrentTime:      now,
//	})
//	if !d.Allowed { /* PermissionDenied; audit d.Effect and d.Sid */ }
//
// Evaluation follows IAM: default deny, an explicit Deny wins; within a
// statement Principal, Action, Resource and every condition must match;
// condition operators and keys are ANDed, a key's values ORed (NORed for
// negated operators such as StringNotEquals); a condition on a key the
// request lacks is false, except for negated operators, ...IfExists and
// ForAllValues:, for which it is true. Null tests presence. ForAnyValue: and
// ForAllValues: apply to kms:EncryptionContextKeys (a single-valued key is a
// set of one), and the multivalued key needs one: a plain operator on it is
// refused, as KMS says ("Multivalued condition keys require a set
// operator"). Condition key names are case-insensitive, and for
// kms:EncryptionContext:<name> so is <name>; values are compared as the
// operator says. A request whose encryption context has two keys equal
// under case folding is denied (AmbiguousContextSid) whatever the policy
// says, so no decision depends on map order; CheckEncryptionContext lets
// the server refuse it first. A statement without Resource has no effect,
// as in KMS. In StringLike, '?' matches one character (a rune), '*' any
// run. Documents may hold only printable Basic Latin and Latin-1
// characters, tab, LF and CR, as KMS requires.
//
// Principals: "*" is anyone; arn:aws:iam::ACCOUNT:root, or a bare account
// id, is every principal of that account (the account field of the
// caller's ARN, as keygate's config maps identities to ARNs); role, user
// and assumed-role ARNs match exactly. Service principals are accepted so
// that KMS's own policies parse, and never match a keygate caller. Keys
// keygate never sets (kms:ViaService, grants, tags, VPC...) are accepted
// and are always absent; see AbsentConditionKeys.
//
// Not supported, and refused by Validate: NotResource, Federated and
// CanonicalUser principals, policy variables (${...}), partial wildcards in
// principal ARNs (IAM refuses them too), actions outside kms: and keygate:.
//
// Tools for the admin API and the CLI:
//
//   - Validate lists every problem in a document (keygate policy validate);
//     Parse returns the same list as one InvalidArgument *kgerr.Error.
//     Warnings lists what is legal but likely unmeant: account principals
//     (every principal keygate maps into the account) and statements
//     without Resource.
//   - Default(account, admins) is the policy a key gets when created without
//     one: admins get AdminActions, nobody gets data-plane use.
//   - CheckLockout is KMS's lockout safety check for PutKeyPolicy: nil if at
//     least one of the given admins could still call kms:PutKeyPolicy.
//   - Explain reports, per statement, whether principal, action, resource and
//     each condition matched (keygate policy simulate); its String is the
//     CLI's output.
//   - Diff compares two policies semantically, one line per difference
//     (keygate policy diff against GetKeyPolicy); Canonical prints the normal
//     form it compares.
//
// Actions are KMS's (KMSActions) and keygate's own for what KMS has no
// operation for (KeygateActions, in the "keygate:" namespace, so "kms:*"
// never grants them). Action names match case-insensitively, as in IAM.
//
// A Policy is immutable and safe for concurrent use; compile it once per key
// version. Evaluate takes a non-nil *Request and does not allocate.
package policy
