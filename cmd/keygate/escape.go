package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Audit events carry text that callers chose (key names, x-request-id,
// encryption-context keys, error details). None of it may reach a
// terminal or a spreadsheet as anything but text: no newline that forges a
// second row, no ANSI escape that rewrites the screen, no formula.

// sanitizeText makes s safe to print on a terminal, on one line:
// backslash, control characters (C0, DEL, C1, so ESC and CSI too), the
// bidirectional overrides and isolates that reorder what is shown, other
// unprintable runes and invalid UTF-8 are written as Go escapes (\n,
// \x1b, \u202e, \\). Printable text, Latin or not, is left alone.
func sanitizeText(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r) // '\n', '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// isPlain reports whether s needs no escaping (the common case: no
// allocation).
func isPlain(s string) bool {
	for _, r := range s {
		if r == '\\' || r == utf8.RuneError || unsafeRune(r) {
			return false
		}
	}
	return true
}

// unsafeRune: controls, format characters that reorder or hide text
// (bidi overrides and isolates, zero-width ones), and anything else
// unicode does not call printable.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || !unicode.IsPrint(r) && r != ' '
}

// csvCell is sanitizeText plus the CSV injection defence: a cell a
// spreadsheet would read as a formula (starting with = + - @, or a tab or
// CR that some strip first) gets a leading apostrophe, which spreadsheets
// show as text and do not display.
func csvCell(s string) string {
	s = sanitizeText(s)
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// escapeJSON rewrites, inside JSON that encoding/json produced, the runes
// it leaves raw but a terminal acts on: DEL, the C1 controls (U+009B is an
// 8-bit CSI) and format characters such as U+202E. They can only occur
// inside strings, where \uXXXX means the same character, so the JSON
// decodes to the same value.
func escapeJSON(b []byte) []byte {
	if !bytes.ContainsFunc(b, func(r rune) bool { return r >= 0x7f && unsafeRune(r) }) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r >= 0x7f && unsafeRune(r) && !(r == utf8.RuneError && n == 1) {
			if r > 0xffff {
				r1, r2 := utf16Pair(r)
				out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
		} else {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

// utf16Pair is r's UTF-16 surrogate pair (JSON's \u escapes are UTF-16).
func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
