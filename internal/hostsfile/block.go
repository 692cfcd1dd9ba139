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
// In a file whose last line has no line end, the block goes after a line
// end and its END line gets none: the block holds that line end, and
// removing the block gives the file back byte for byte.
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

// span is one complete block: content[start:end] holds its lines, line
// ends included. A block that ends the file without a line end (tail)
// also holds the line end before it, when that is not another block's:
// Replace puts one there to start the block on a line of its own in a
// file that did not end in one, and leaves the block's last line without
// one, so that Remove gives the file back byte for byte.
type span struct {
	start, end int
	tail       bool
	sep        int // bytes of the line end before the block held in the span
}

// blocks finds the complete blocks of content and reports the line end a
// block is written with: that of the first block's BEGIN line, else that
// of the file's first line ("\r\n" or "\n").
func blocks(content []byte) (found []span, eol string, err error) {
	eol = "\n"
	if i := bytes.IndexByte(content, '\n'); i > 0 && content[i-1] == '\r' {
		eol = "\r\n"
	}
	open, openLine, openEOL := -1, 0, ""
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
			open, openLine, openEOL = pos, line, "\n"
			if bytes.HasSuffix(content[pos:next], []byte("\r\n")) {
				openEOL = "\r\n"
			}
			if len(found) == 0 {
				// the line end of an existing block wins, so that a
				// file with mixed line ends keeps its block as it is
				eol = openEOL
			}
		case text == EndMarker && open < 0:
			return nil, eol, &DamagedError{Line: line, Reason: "an END localdev line without a BEGIN localdev line before it"}
		case text == EndMarker:
			s := span{start: open, end: next}
			if next == len(content) && content[next-1] != '\n' {
				s.tail = true
				if open > 0 && (len(found) == 0 || found[len(found)-1].end < open) {
					s.sep = 1 // a block starts a line: a line end is before it
					if bytes.HasSuffix(content[:open], []byte(openEOL)) {
						s.sep = len(openEOL)
					}
					s.start -= s.sep
				}
			}
			found = append(found, s)
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
// there are several), with its last line end even where the file ends
// without one, and whether there is one.
func Current(content []byte) (block []byte, ok bool, err error) {
	found, eol, err := blocks(content)
	if err != nil || len(found) == 0 {
		return nil, false, err
	}
	s := found[0]
	block = content[s.start+s.sep : s.end]
	if s.tail {
		block = append(slices.Clip(block), eol...)
	}
	return block, true, nil
}

// Replace returns content with its managed block set to block (as Block
// renders it, with "\n" line ends; a file with CRLF line ends gets CRLF).
// The block takes the place of the first existing block, and any other
// block is removed; without one it is appended, after a line end if
// content does not end in one. Every byte outside the blocks is kept,
// and so is a missing line end at the end of the file: appended to such a
// file, or in place of a block that ends one, the block's last line gets
// none, so that Remove gives back the file as it was.
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
			block = strings.TrimSuffix(block, eol)
		}
		return append(out, block...), nil
	}
	if first := found[0]; first.tail {
		// the block ends the file without a line end: so does the new one
		block = string(content[first.start:first.start+first.sep]) + strings.TrimSuffix(block, eol)
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
