package routefile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("s3cr3t-", 20)
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"5173", "5173"},
		{"github.com:80", "github.com:80"},
		{strings.Repeat("a", 40), strings.Repeat("a", 40)},
		{strings.Repeat("a", 41), strings.Repeat("a", 39) + "…"},
		{long, long[:39] + "…"},
		{"a\x1b[2Jb", `a\x1b[2Jb`},
		{"\u202eevil", `\u202eevil`},
		{"bad\xffbyte", `bad\xffbyte`},
		{"ünïcode ok", "ünïcode ok"},
		{strings.Repeat("\x00", 30), strings.Repeat(`\x00`, 9) + "…"},
	} {
		got := Excerpt(tt.in)
		if got != tt.want {
			t.Errorf("Excerpt(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if n := utf8.RuneCountInString(got); n > MaxExcerpt {
			t.Errorf("Excerpt(%q) has %d characters, want at most %d", tt.in, n, MaxExcerpt)
		}
	}
}

// FuzzRouteFile feeds the route-file reader any content: it never fails
// but with an error or a valid target, and its error carries at most a
// short escaped excerpt of the content.
func FuzzRouteFile(f *testing.F) {
	for _, seed := range []string{
		"5173\n", "# comment\n\n  127.0.0.1:3000  \n", "[::1]:4000", "unix//tmp/app.sock\n", "https://5173\n",
		"", "\n\n# only comments\n", "github.com:80\n", "root:$6$saltsalt$" + strings.Repeat("x", 86) + ":19000:0:99999:7:::\n",
		"PATH=/usr/bin\x00HOME=/root\x00SECRET=" + strings.Repeat("k", 64), "\x1b[2J\x1b[H5173", "\u202e3715", "\xff\xfe5173",
		strings.Repeat("9", 70000),
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "app")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		name, target, err := Read(path, "app", "localhost")
		if err != nil {
			msg := err.Error()
			if !utf8.ValidString(msg) {
				t.Fatalf("error is not valid UTF-8: %q", msg)
			}
			for _, r := range msg {
				if r < ' ' || r == 0x7f || r == '\u202e' {
					t.Fatalf("error carries a control character: %q", msg)
				}
			}
			for line := range strings.Lines(content) {
				line = strings.TrimSpace(line)
				if len(line) > MaxExcerpt && strings.Contains(msg, line[:MaxExcerpt+1]) {
					t.Fatalf("error carries more than %d bytes of the content: %q", MaxExcerpt, msg)
				}
			}
			return
		}
		if name != "app.localhost" || target == "" || strings.ContainsAny(target, "\n\r") {
			t.Fatalf("Read = %q, %q", name, target)
		}
		if !strings.Contains(content, target) {
			t.Fatalf("target %q is not from the file", target)
		}
	})
}

func TestReadNamesTheBadCharacter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app")
	for content, want := range map[string]string{
		"3000\u202e\n":                      `target "3000\u202e" has the character U+202E at byte 4`,
		"3000\x07":                          `target "3000\a" has the character U+0007 at byte 4`,
		strings.Repeat("x", 60) + "\x1b[2J": `target "` + strings.Repeat("x", 39) + `…" has the character U+001B at byte 60`,
		strings.Repeat("x", 60):             `target "` + strings.Repeat("x", 39) + `…" is not a port`,
		"github.com:80":                     `target "github.com:80"`,
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := Read(path, "app", "localhost")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Read(%q) = %v, want an error with %q", content, err, want)
		}
	}
}
