package policy

import "unicode/utf8"

// wildMatch reports whether s matches pattern, where '*' matches any run of
// characters (including none) and '?' exactly one character: one rune of
// UTF-8, not one byte, so "caf?" matches "café". fold compares ASCII
// letters case-insensitively (IAM actions); ARNs and String*Like values are
// case-sensitive. It runs in O(len(s)*len(pattern)) at worst, never
// allocates, and never recurses, so hostile patterns cannot blow the stack.
func wildMatch(pattern, s string, fold bool) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == '?':
			p++
			i += runeLen(s[i:])
		case p < len(pattern) && eqByte(pattern[p], s[i], fold):
			p++
			i++
		case star >= 0:
			// Let the last '*' absorb one more character and retry.
			mark += runeLen(s[mark:])
			i = mark
			p = star + 1
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// runeLen is the length of the UTF-8 character s starts with (1 for a
// byte that starts none, so that matching always advances).
func runeLen(s string) int {
	_, n := utf8.DecodeRuneInString(s)
	return max(n, 1)
}

func eqByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	return lower(a) == lower(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasWild reports whether s contains a wildcard character.
func hasWild(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '*' || s[i] == '?' {
			return true
		}
	}
	return false
}

// arnMatch compares two ARNs component by component (IAM's ArnLike and
// ArnEquals): the first five colon-separated parts each on their own, the
// sixth is the rest, so a '*' in the region cannot swallow the account.
func arnMatch(pattern, arn string) bool {
	for part := 0; part < 5; part++ {
		pi := indexColon(pattern)
		ai := indexColon(arn)
		if pi < 0 || ai < 0 {
			return false
		}
		if !wildMatch(pattern[:pi], arn[:ai], false) {
			return false
		}
		pattern, arn = pattern[pi+1:], arn[ai+1:]
	}
	return wildMatch(pattern, arn, false)
}

func indexColon(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return i
		}
	}
	return -1
}

// arnAccount returns the account field of an ARN
// (arn:partition:service:region:ACCOUNT:resource), or "".
func arnAccount(arn string) string {
	for part := 0; part < 4; part++ {
		i := indexColon(arn)
		if i < 0 {
			return ""
		}
		arn = arn[i+1:]
	}
	if i := indexColon(arn); i >= 0 {
		return arn[:i]
	}
	return ""
}
