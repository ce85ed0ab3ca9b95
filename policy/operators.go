package policy

import "strings"

// opFamily groups operators by how they compare.
type opFamily int

const (
	famString opFamily = iota
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famArn
	famNull
)

// cmp is the comparison an operator makes between the request value (left)
// and one policy value (right).
type cmp int

const (
	cmpEq cmp = iota
	cmpEqFold
	cmpLike
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

type opDef struct {
	fam     opFamily
	cmp     cmp
	negated bool
}

// operators are IAM's condition operators without the IfExists suffix and
// the ForAnyValue:/ForAllValues: prefix, which parseOperator strips.
var operators = map[string]opDef{
	"StringEquals":              {famString, cmpEq, false},
	"StringNotEquals":           {famString, cmpEq, true},
	"StringEqualsIgnoreCase":    {famString, cmpEqFold, false},
	"StringNotEqualsIgnoreCase": {famString, cmpEqFold, true},
	"StringLike":                {famString, cmpLike, false},
	"StringNotLike":             {famString, cmpLike, true},
	"NumericEquals":             {famNumeric, cmpEq, false},
	"NumericNotEquals":          {famNumeric, cmpEq, true},
	"NumericLessThan":           {famNumeric, cmpLt, false},
	"NumericLessThanEquals":     {famNumeric, cmpLe, false},
	"NumericGreaterThan":        {famNumeric, cmpGt, false},
	"NumericGreaterThanEquals":  {famNumeric, cmpGe, false},
	"DateEquals":                {famDate, cmpEq, false},
	"DateNotEquals":             {famDate, cmpEq, true},
	"DateLessThan":              {famDate, cmpLt, false},
	"DateLessThanEquals":        {famDate, cmpLe, false},
	"DateGreaterThan":           {famDate, cmpGt, false},
	"DateGreaterThanEquals":     {famDate, cmpGe, false},
	"Bool":                      {famBool, cmpEqFold, false},
	"BinaryEquals":              {famBinary, cmpEq, false},
	"IpAddress":                 {famIP, cmpEq, false},
	"NotIpAddress":              {famIP, cmpEq, true},
	"ArnEquals":                 {famArn, cmpLike, false},
	"ArnLike":                   {famArn, cmpLike, false},
	"ArnNotEquals":              {famArn, cmpLike, true},
	"ArnNotLike":                {famArn, cmpLike, true},
	"Null":                      {famNull, cmpEq, false},
}

// setOp is a ForAnyValue:/ForAllValues: qualifier.
type setOp int

const (
	setNone setOp = iota
	setAny
	setAll
)

type opSpec struct {
	def      opDef
	set      setOp
	ifExists bool
}

// parseOperator splits an operator name such as
// "ForAllValues:StringLikeIfExists" into its parts. Operator names are
// case-sensitive in IAM, so they are here.
func parseOperator(name string) (opSpec, bool) {
	var s opSpec
	switch {
	case strings.HasPrefix(name, "ForAnyValue:"):
		s.set, name = setAny, name[len("ForAnyValue:"):]
	case strings.HasPrefix(name, "ForAllValues:"):
		s.set, name = setAll, name[len("ForAllValues:"):]
	}
	if base, ok := strings.CutSuffix(name, "IfExists"); ok && base != "Null" {
		s.ifExists, name = true, base
	}
	d, ok := operators[name]
	if !ok || (d.fam == famNull && s.set != setNone) {
		return opSpec{}, false
	}
	s.def = d
	return s, true
}

// keyAllows reports whether an operator family can be used with key: IP
// keys take only IP operators, time keys only Date (and, for aws:EpochTime,
// Numeric), and the others neither. A mismatch is almost always a mistake
// that would make a condition silently never match.
func keyAllows(k condKey, f opFamily) bool {
	if f == famNull || k.id == keyAbsent {
		return true
	}
	switch k.id {
	case keySourceIP:
		return f == famIP
	case keyCurrentTime:
		return f == famDate
	case keyEpochTime:
		return f == famDate || f == famNumeric
	}
	return f != famIP && f != famDate
}
