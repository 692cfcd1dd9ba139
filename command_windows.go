//go:build windows

package localdev

// stdinForeground is false on Windows: there are no process groups of a
// terminal to share, so run passes every signal on as it always did.
func stdinForeground() bool { return false }

// terminalForeground is false on Windows, as stdinForeground.
func terminalForeground(fd int) bool { return false }
