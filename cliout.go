package localdev

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// cliResult hands a subcommand's outcome to caddycmd.Main, which exits
// with the status carried by the returned error. An error is printed as
// one plain line on stderr (caddycmd would log it as a JSON line when
// stderr is not a terminal), control characters escaped. A status of 1
// without an error (a command run passed on) is an error, silenced, since
// caddycmd's wrapper turns status 1 without an error into 0.
func cliResult(c *cobra.Command, args []string, code int, err error) error {
	if err != nil {
		fmt.Fprintln(c.ErrOrStderr(), terminalSafe(err.Error()))
	}
	if err == nil && code == 0 {
		return nil
	}
	c.SilenceErrors = true
	if code <= 1 {
		if err != nil {
			return err
		}
		return errChildStatus1
	}
	// Status > 1: caddycmd's exit error, with which Main exits.
	return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) { return code, nil })(c, args)
}

// cliUsageError prints err as one plain line and returns it with cobra's
// own printing silenced, for errors cobra reports itself (flags, unknown
// subcommands), which it would print as "Error: …".
func cliUsageError(c *cobra.Command, err error) error {
	fmt.Fprintln(c.ErrOrStderr(), terminalSafe(err.Error()))
	c.SilenceErrors = true
	c.Root().SilenceErrors = true
	return err
}

// writeTerminalJSON writes v as indented JSON whose control characters,
// DEL, C1 controls and bidi overrides are all \u escapes (JSON escapes
// only the C0 ones itself): printed on a terminal, the JSON shows them
// rather than obeying them, and it means the same to a program.
func writeTerminalJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	var out strings.Builder
	for _, r := range buf.String() {
		if r >= 0x7f && unsafeRune(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
			continue
		}
		out.WriteRune(r)
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// unsafeRune reports whether printing r on a terminal could change what
// the rest of the line looks like: C0 and C1 controls, DEL, and the Unicode
// bidi controls (embeddings, overrides, isolates and marks).
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

// terminalSafe makes s safe to print on a terminal: what unsafeRune
// reports (newlines included) and bytes that are not UTF-8 become \xNN or
// \u{NNNN}, so that a name or message cannot rewrite what the screen shows.
func terminalSafe(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u{%04x}`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// errChildStatus1 makes `caddy localdev run` exit with status 1 when the
// command did: caddycmd's wrapper turns status 1 without an error into 0.
var errChildStatus1 = errors.New("the command exited with status 1")
