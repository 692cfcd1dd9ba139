package localdev

import (
	"errors"
	"fmt"

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
		fmt.Fprintln(c.ErrOrStderr(), cliEscape(err.Error()))
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

// cliEscape makes s safe to print on a terminal: control characters
// (newlines included), bytes that are not UTF-8 and bidirectional
// formatting characters become escapes (terminalSafe, shared with doctor),
// so that a name or message cannot rewrite what the screen shows.
func cliEscape(s string) string { return terminalSafe(s) }

// errChildStatus1 makes `caddy localdev run` exit with status 1 when the
// command did: caddycmd's wrapper turns status 1 without an error into 0.
var errChildStatus1 = errors.New("the command exited with status 1")
