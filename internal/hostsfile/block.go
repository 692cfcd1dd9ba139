// Package hostsfile keeps one managed block of names in a hosts file
// (/etc/hosts): it renders the block, puts it into a file's content while
// keeping every byte outside it, and writes the file safely.
//
// The block looks like this; its two marker lines are exact, since scripts
// and people look for them:
//
//	# BEGIN localdev (managed by caddy localdev hosts; edits inside are lost)
//	127.0.0.1 app.localhost
//	::1 app.localhost
//	# *.shop.localhost: a wildcard cannot be listed here
//	# END localdev
//
// The block always ends with its line end, even in a file whose last line
// had none: it goes after a line end there, and that line end stays when
// the block is removed. A line appended later (`echo … | sudo tee -a
// /etc/hosts`) is then a line of its own after the END line, instead of
// being glued onto it, which would hide the line and damage the block.
//
// Damaged content is handled conservatively, so that no line a user wrote
// is ever lost: a BEGIN line without an END line after it, an END line
// without a BEGIN, or a BEGIN inside a block is an error (*DamagedError)
// naming the line, and the file is left alone. Two or more complete
// blocks, each between its own markers, are managed lines only: the first
// is replaced and the others are removed.
package hostsfile

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// The marker lines of the managed block.
const (
	BeginMarker = "# BEGIN localdev (managed by caddy localdev hosts; edits inside are lost)"
	EndMarker   = "# END localdev"
)

// beginPrefix is what identifies a BEGIN line, so that a block written by
// a version with another explanation in parentheses is still found.
const beginPrefix = "# BEGIN localdev"

// Block renders the managed block for names, with "\n" line ends. Exact
// names get one 127.0.0.1 and one ::1 line each; a wildcard name
// ("*.shop.localhost") gets a comment line, since hosts files cannot list
// one. Names are lowercased, deduplicated and sorted; empty ones are
// skipped.
func Block(names []string) string {
	var exact, wild []string
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		switch {
		case n == "":
		case strings.HasPrefix(n, "*."):
			wild = append(wild, n)
		default:
			exact = append(exact, n)
		}
	}
	slices.Sort(exact)
	slices.Sort(wild)
	exact = slices.Compact(exact)
	wild = slices.Compact(wild)
	var b strings.Builder
	b.WriteString(BeginMarker + "\n")
	for _, n := range exact {
		b.WriteString("127.0.0.1 " + n + "\n")
		b.WriteString("::1 " + n + "\n")
	}
	for _, n := range wild {
		b.WriteString("# " + n + ": a wildcard cannot be listed here\n")
	}
	b.WriteString(EndMarker + "\n")
	return b.String()
}

// DamagedError reports content whose markers do not pair up, so that
// where the managed block ends is unknown. The file is not changed.
type DamagedError struct {
	Line   int    // 1-based line number of the offending marker
	Reason string // what is wrong, in words
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("line %d: %s; the file is left as it is: fix the localdev marker lines by hand", e.Line, e.Reason)
}

// span is one complete block: content[start:end] holds its lines,
// line ends included.
type span struct{ start, end int }

// blocks finds the complete blocks of content and reports the line end a
// block is written with: that of the first block's BEGIN line, else that
// of the file's first line ("\r\n" or "\n").
func blocks(content []byte) (found []span, eol string, err error) {
	eol = "\n"
	if i := bytes.IndexByte(content, '\n'); i > 0 && content[i-1] == '\r' {
		eol = "\r\n"
	}
	open, openLine := -1, 0
	for pos, line := 0, 1; pos < len(content); line++ {
		next := len(content)
		if i := bytes.IndexByte(content[pos:], '\n'); i >= 0 {
			next = pos + i + 1
		}
		text := strings.TrimRight(string(content[pos:next]), " \t\r\n")
		switch {
		case isBegin(text) && open >= 0:
			return nil, eol, &DamagedError{Line: line, Reason: fmt.Sprintf("a second BEGIN localdev line inside the block that starts at line %d", openLine)}
		case isBegin(text):
			open, openLine = pos, line
			if len(found) == 0 {
				// the line end of an existing block wins, so that a
				// file with mixed line ends keeps its block as it is
				eol = "\n"
				if bytes.HasSuffix(content[pos:next], []byte("\r\n")) {
					eol = "\r\n"
				}
			}
		case text == EndMarker && open < 0:
			return nil, eol, &DamagedError{Line: line, Reason: "an END localdev line without a BEGIN localdev line before it"}
		case text == EndMarker:
			found = append(found, span{open, next})
			open = -1
		}
		pos = next
	}
	if open >= 0 {
		return nil, eol, &DamagedError{Line: openLine, Reason: "a BEGIN localdev line without an END localdev line after it (a half-written block)"}
	}
	return found, eol, nil
}

func isBegin(text string) bool {
	rest, ok := strings.CutPrefix(text, beginPrefix)
	return ok && (rest == "" || rest[0] == ' ')
}

// Current returns the managed block of content as it is (the first one if
// there are several), and whether there is one.
func Current(content []byte) (block []byte, ok bool, err error) {
	found, _, err := blocks(content)
	if err != nil || len(found) == 0 {
		return nil, false, err
	}
	return content[found[0].start:found[0].end], true, nil
}

// Replace returns content with its managed block set to block (as Block
// renders it, with "\n" line ends; a file with CRLF line ends gets CRLF).
// The block takes the place of the first existing block, and any other
// block is removed; without one it is appended, after a line end if
// content does not end in one. Every byte outside the blocks is kept,
// and the block always ends with its line end.
func Replace(content []byte, block string) ([]byte, error) {
	found, eol, err := blocks(content)
	if err != nil {
		return nil, err
	}
	if eol != "\n" {
		block = strings.ReplaceAll(block, "\n", eol)
	}
	if len(found) == 0 {
		out := make([]byte, 0, len(content)+len(eol)+len(block))
		out = append(out, content...)
		if len(content) > 0 && content[len(content)-1] != '\n' {
			out = append(out, eol...)
		}
		return append(out, block...), nil
	}
	return splice(content, found, []byte(block)), nil
}

// Remove returns content without its managed blocks (the marker lines and
// everything between them). Every other byte is kept.
func Remove(content []byte) ([]byte, error) {
	found, _, err := blocks(content)
	if err != nil {
		return nil, err
	}
	return splice(content, found, nil), nil
}

// splice puts block in place of the first span and drops the others.
func splice(content []byte, found []span, block []byte) []byte {
	out := make([]byte, 0, len(content)+len(block))
	pos := 0
	for i, s := range found {
		out = append(out, content[pos:s.start]...)
		if i == 0 {
			out = append(out, block...)
		}
		pos = s.end
	}
	return append(out, content[pos:]...)
}
