package kmsserver

// operation is one TrentService operation: its handler, and whether
// CloudTrail marks it readOnly.
type operation struct {
	fn       func(*Server, *call) (any, *kmsError)
	readOnly bool
}

// operations are the KMS operations keygate uses.
var operations = map[string]operation{
	"CreateKey":           {createKey, false},
	"DescribeKey":         {describeKey, true},
	"GetPublicKey":        {getPublicKey, true},
	"EnableKey":           {enableKey, false},
	"DisableKey":          {disableKey, false},
	"ScheduleKeyDeletion": {scheduleKeyDeletion, false},
	"CancelKeyDeletion":   {cancelKeyDeletion, false},
	"GetKeyPolicy":        {getKeyPolicy, true},
	"PutKeyPolicy":        {putKeyPolicy, false},
	"CreateAlias":         {createAlias, false},
	"ListAliases":         {listAliases, true},
	"TagResource":         {tagResource, false},
	"ListResourceTags":    {listResourceTags, true},
	"Sign":                {sign, true},
	"Verify":              {verify, true},
	"Encrypt":             {encrypt, true},
	"Decrypt":             {decrypt, true},
	"GenerateDataKey":     {generateDataKey, true},
	"GenerateMac":         {generateMac, true},
	"VerifyMac":           {verifyMac, true},
	"DeriveSharedSecret":  {deriveSharedSecret, true},

	"GetParametersForImport":    {getParametersForImport, true},
	"ImportKeyMaterial":         {importKeyMaterial, false},
	"DeleteImportedKeyMaterial": {deleteImportedKeyMaterial, false},
}
