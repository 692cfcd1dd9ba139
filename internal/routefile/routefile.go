// Package routefile reads the files of a route folder: the file's name is
// the route's name, its first line that is neither blank nor a comment is
// the target. A route file may be a link to any file on the machine (even
// one its writer could not read), so what this package says about a file
// carries at most a short escaped excerpt of its content.
package routefile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/localdev/localdev/internal/routes"
)

// MaxExcerpt is the most characters of a route file's content that an
// error of Read (and so a log line) carries.
const MaxExcerpt = 40

// maxRead is how much of a file Read looks at.
const maxRead = 64 << 10

// ErrNotRegular is a folder entry that is not a regular file (a link to a
// folder or a device): not a route, and not worth a warning.
var ErrNotRegular = errors.New("not a regular file")

// Read reads the route file at path, whose base name is base, for a
// handler of domain: the full route name and the target as written.
func Read(path, base, domain string) (name, target string, err error) {
	name, err = routes.NormalizeName(base, domain)
	if err != nil {
		return "", "", err
	}
	// Non-blocking, so that a FIFO swapped in cannot hang the watcher;
	// links are followed (dotfile managers link route files in).
	fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", "", err
	}
	defer fh.Close()
	if info, err := fh.Stat(); err != nil || !info.Mode().IsRegular() {
		return "", "", ErrNotRegular
	}
	sc := bufio.NewScanner(io.LimitReader(fh, maxRead))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, err := routes.ParseTarget(line); err != nil {
			if Excerpt(line) == line {
				return "", "", err // it names the whole line: short and printable
			}
			// The error would quote the line: the log gets only its start.
			if i, r := unprintable(line); i >= 0 {
				return "", "", fmt.Errorf("target \"%s\" has the character %U at byte %d: control characters and bidirectional overrides are not allowed", Excerpt(line), r, i)
			}
			return "", "", fmt.Errorf("target \"%s\" is not a port such as 5173, a loopback address with a port, or unix//path", Excerpt(line))
		}
		return name, line, nil
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("reading the target: %w", err)
	}
	return "", "", errors.New("no target: write a port such as 5173 on the first line")
}

// Ignored reports whether a folder entry is a dotfile or an editor's file,
// skipped without a word.
func Ignored(base string) bool {
	return strings.HasPrefix(base, ".") || strings.HasSuffix(base, "~") ||
		strings.HasSuffix(base, ".swp") || strings.HasSuffix(base, ".swx") ||
		strings.HasSuffix(base, ".tmp")
}

// unprintable returns the first character of s that Excerpt escapes and
// where it is, or -1.
func unprintable(s string) (int, rune) {
	for i, r := range s {
		if !unicode.IsPrint(r) || r == utf8.RuneError {
			return i, r
		}
	}
	return -1, 0
}

// Excerpt returns the start of s, at most MaxExcerpt characters with "…"
// marking a cut, with control characters, bidi controls and other
// unprintable characters escaped (\x1b, \u202e) and invalid UTF-8 shown
// as \xNN; s itself when it is short and printable.
func Excerpt(s string) string {
	var b strings.Builder
	n, cut := 0, 0 // characters written; bytes of b within MaxExcerpt-1 characters
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		piece := s[i : i+size]
		switch {
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case !unicode.IsPrint(r):
			q := strconv.QuoteRuneToASCII(r)
			piece = q[1 : len(q)-1]
		}
		i += size
		k := utf8.RuneCountInString(piece)
		if n+k > MaxExcerpt {
			return b.String()[:cut] + "…"
		}
		b.WriteString(piece)
		if n += k; n < MaxExcerpt {
			cut = b.Len()
		}
	}
	return b.String()
}
