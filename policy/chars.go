package policy

import "unicode/utf8"

// badChar finds the first character KMS refuses in a key policy document.
// KMS (PutKeyPolicy, Policy): "A key policy document can include only the
// following characters: Printable ASCII characters from the space
// character (\u0020) through the end of the ASCII character range.
// Printable characters in the Basic Latin and Latin-1 Supplement character
// set (through \u00FF). The tab (\u0009), line feed (\u000A), and carriage
// return (\u000D) special characters." DEL and the C1 controls
// (U+007F-U+009F) are not printable. Invalid UTF-8 is left to the JSON
// parser, which names it.
func badChar(doc []byte) (at int, r rune, bad bool) {
	for i := 0; i < len(doc); {
		r, n := utf8.DecodeRune(doc[i:])
		if r == utf8.RuneError && n <= 1 {
			return 0, 0, false
		}
		switch {
		case r == '\t', r == '\n', r == '\r':
		case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xff:
		default:
			return i, r, true
		}
		i += n
	}
	return 0, 0, false
}
