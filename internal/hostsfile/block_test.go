package hostsfile

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// testNames are the names every golden file is synced with.
var testNames = []string{"app.localhost", "*.shop.localhost", "API.localhost", "app.localhost", ""}

// TestBlockAsSpecified checks the block byte for byte against the spec.
func TestBlockAsSpecified(t *testing.T) {
	got := Block([]string{"app.localhost", "*.shop.localhost"})
	want := "# BEGIN localdev (managed by caddy localdev hosts; edits inside are lost)\n" +
		"127.0.0.1 app.localhost\n" +
		"::1 app.localhost\n" +
		"# *.shop.localhost: a wildcard cannot be listed here\n" +
		"# END localdev\n"
	if got != want {
		t.Fatalf("Block:\n%s\nwant:\n%s", got, want)
	}
	sorted := Block([]string{"b.localhost", "a.localhost", "b.localhost", "*.z.localhost", "*.y.localhost"})
	wantSorted := BeginMarker + "\n127.0.0.1 a.localhost\n::1 a.localhost\n127.0.0.1 b.localhost\n::1 b.localhost\n" +
		"# *.y.localhost: a wildcard cannot be listed here\n# *.z.localhost: a wildcard cannot be listed here\n" + EndMarker + "\n"
	if sorted != wantSorted {
		t.Fatalf("Block sorts and deduplicates:\n%s\nwant:\n%s", sorted, wantSorted)
	}
	if empty := Block(nil); empty != BeginMarker+"\n"+EndMarker+"\n" {
		t.Fatalf("Block(nil) = %q", empty)
	}
}

// TestGolden syncs and cleans every file in testdata and compares with the
// golden results: <name>.sync and <name>.clean, or <name>.err when the
// content is refused. go test -run TestGolden -update rewrites them.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	block := Block(testNames)
	for _, in := range inputs {
		base := strings.TrimSuffix(in, ".in")
		t.Run(filepath.Base(base), func(t *testing.T) {
			content, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			synced, serr := Replace(content, block)
			cleaned, cerr := Remove(content)
			if serr != nil || cerr != nil {
				if serr == nil || cerr == nil || serr.Error() != cerr.Error() {
					t.Fatalf("Replace and Remove disagree: %v / %v", serr, cerr)
				}
				var damaged *DamagedError
				if !errors.As(serr, &damaged) {
					t.Fatalf("error %v is not a *DamagedError", serr)
				}
				golden(t, base+".err", []byte(serr.Error()+"\n"))
				return
			}
			golden(t, base+".sync", synced)
			golden(t, base+".clean", cleaned)
			checkOutside(t, content, synced)
			again, err := Replace(synced, block)
			if err != nil || !bytes.Equal(again, synced) {
				t.Fatalf("a second Replace changed the content (%v):\n%q\n%q", err, synced, again)
			}
			current, ok, err := Current(synced)
			wantBlock := block
			if _, eol, _ := blocks(content); eol == "\r\n" {
				wantBlock = strings.ReplaceAll(block, "\n", "\r\n")
			}
			if err != nil || !ok || string(current) != wantBlock {
				t.Fatalf("Current after Replace = %q, %v, %v; want %q", current, ok, err, wantBlock)
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs:\ngot:\n%q\nwant:\n%q", path, got, want)
	}
}

// checkOutside checks that every line of in that is not inside a block is
// in out, in the same order, byte for byte (line end included, except a
// last line that had none).
func checkOutside(t *testing.T, in, out []byte) {
	t.Helper()
	outside := linesOutside(t, in)
	rest := linesOutside(t, out)
	i := 0
	for _, l := range outside {
		for i < len(rest) && !bytes.Equal(rest[i], l) && !(bytes.HasPrefix(rest[i], l) && !bytes.HasSuffix(l, []byte("\n"))) {
			i++
		}
		if i == len(rest) {
			t.Fatalf("line %q of the input is missing from the output:\n%q", l, out)
		}
		i++
	}
}

func linesOutside(t *testing.T, content []byte) [][]byte {
	t.Helper()
	found, _, err := blocks(content)
	if err != nil {
		t.Fatal(err)
	}
	var keep []byte
	pos := 0
	for _, s := range found {
		keep = append(keep, content[pos:s.start]...)
		pos = s.end
	}
	keep = append(keep, content[pos:]...)
	return bytes.SplitAfter(keep, []byte("\n"))
}

// TestDamagedErrorsNameTheLine checks the messages of refused content.
func TestDamagedErrorsNameTheLine(t *testing.T) {
	for content, want := range map[string]string{
		"a\n" + BeginMarker + "\nb\n":                                "line 2: a BEGIN localdev line without an END localdev line after it",
		"a\nb\n" + EndMarker + "\n":                                  "line 3: an END localdev line without a BEGIN",
		BeginMarker + "\n" + BeginMarker + "\n" + EndMarker + "\n":   "line 2: a second BEGIN localdev line inside the block that starts at line 1",
		"x\r\n" + BeginMarker + "\r\n" + "127.0.0.1 a.localhost\r\n": "line 2: a BEGIN localdev line without",
	} {
		_, err := Replace([]byte(content), Block(nil))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Replace(%q) error = %v, want it to start with %q", content, err, want)
		}
	}
}

// roundTrips are files without a block for sync then clean: ending with
// and without a line end, with and without blank lines before the end, LF
// and CRLF. A file that is empty or ends with a line end comes back byte
// for byte; one whose last line has no line end comes back with eol added,
// the one line end (in the style of the file's first line) that sync put
// before the block.
var roundTrips = []struct{ name, content, eol string }{
	{"empty", "", ""},
	{"trailing newline", "127.0.0.1 localhost\n10.0.0.5 nas.lan\n", ""},
	{"no trailing newline", "127.0.0.1 localhost\n10.0.0.5 nas.lan", "\n"},
	{"one line, no newline", "127.0.0.1 localhost", "\n"},
	{"blank line before the end", "127.0.0.1 localhost\n\n", ""},
	{"blank lines before the end", "127.0.0.1 localhost\n\n\n", ""},
	{"blank lines, then a last line without newline", "127.0.0.1 localhost\n\n\n10.0.0.5 nas.lan", "\n"},
	{"only newlines", "\n\n", ""},
	{"one newline", "\n", ""},
	{"blank-looking last line", "127.0.0.1 localhost\n  \t", "\n"},
	{"CRLF", "127.0.0.1 localhost\r\n10.0.0.5 nas.lan\r\n", ""},
	{"CRLF, no trailing newline", "127.0.0.1 localhost\r\n10.0.0.5 nas.lan", "\r\n"},
	{"CRLF, blank lines before the end", "127.0.0.1 localhost\r\n\r\n\r\n", ""},
	{"CRLF, blank lines, then a last line without newline", "127.0.0.1 localhost\r\n\r\n10.0.0.5 nas.lan", "\r\n"},
	{"CRLF, last line ends in CR", "127.0.0.1 localhost\r\nnas\r", "\r\n"},
	{"LF, last line ends in CR", "127.0.0.1 localhost\nnas\r", "\n"},
	{"mixed line ends, no trailing newline", "127.0.0.1 localhost\r\n10.0.0.5 nas.lan\n::1 localhost", "\r\n"},
}

// TestSyncCleanRoundTrip: sync then clean leaves a file that ends with a
// line end byte-identical to what it was, and adds exactly one line end to
// a file whose last line had none; a second sync and clean change nothing
// more. In memory (Replace, Remove) and on disk (Sync, Clean, with a
// second sync in between that does not write).
func TestSyncCleanRoundTrip(t *testing.T) {
	block := Block(testNames)
	other := Block([]string{"other.localhost"})
	for _, tt := range roundTrips {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.content + tt.eol
			synced, err := Replace([]byte(tt.content), block)
			if err != nil {
				t.Fatal(err)
			}
			resynced, err := Replace(synced, other)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Replace([]byte(want), block)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range [][]byte{synced, resynced, again} {
				cleaned, err := Remove(s)
				if err != nil || string(cleaned) != want {
					t.Errorf("Remove(%q) = %q, %v; want %q", s, cleaned, err, want)
				}
			}

			path := filepath.Join(t.TempDir(), "hosts")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			for round := 1; round <= 2; round++ {
				if changed, err := Sync(path, block); err != nil || !changed {
					t.Fatalf("round %d: Sync: %v, %v", round, changed, err)
				}
				if changed, err := Sync(path, block); err != nil || changed {
					t.Fatalf("round %d: second Sync: %v, %v; want no write", round, changed, err)
				}
				if changed, err := Sync(path, other); err != nil || !changed {
					t.Fatalf("round %d: Sync of another block: %v, %v", round, changed, err)
				}
				if changed, err := Clean(path); err != nil || !changed {
					t.Fatalf("round %d: Clean: %v, %v", round, changed, err)
				}
				if got, _ := os.ReadFile(path); string(got) != want {
					t.Errorf("round %d: after Sync and Clean the file is %q, want %q", round, got, want)
				}
			}
		})
	}
}

// fileEOL is the line end of content's first line: the one sync adds
// before the block when the last line has none.
func fileEOL(content []byte) string {
	if i := bytes.IndexByte(content, '\n'); i > 0 && content[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// FuzzBlocks checks, for any content, that the parser does not panic and
// that Replace and Remove keep every line outside the block, agree on
// what they refuse, and are idempotent, and that sync then clean gives
// back content without a block as it was, plus one line end if its last
// line had none, after which a second sync and clean change nothing. The
// golden inputs and the round trips are its seeds.
func FuzzBlocks(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.in")
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, tt := range roundTrips {
		f.Add([]byte(tt.content))
	}
	block := Block(testNames)
	f.Fuzz(func(t *testing.T, content []byte) {
		synced, serr := Replace(content, block)
		cleaned, cerr := Remove(content)
		if (serr == nil) != (cerr == nil) {
			t.Fatalf("Replace and Remove disagree: %v / %v", serr, cerr)
		}
		if serr != nil {
			var damaged *DamagedError
			if !errors.As(serr, &damaged) || damaged.Line < 1 {
				t.Fatalf("error %v is not a *DamagedError with a line", serr)
			}
			return
		}
		checkOutside(t, content, synced)
		checkOutside(t, content, cleaned)
		if again, err := Replace(synced, block); err != nil || !bytes.Equal(again, synced) {
			t.Fatalf("Replace is not idempotent (%v)", err)
		}
		if _, ok, err := Current(synced); err != nil || !ok {
			t.Fatalf("no block after Replace: %v", err)
		}
		if _, ok, err := Current(cleaned); err != nil || ok {
			t.Fatalf("a block is left after Remove: %v", err)
		}
		if again, err := Remove(cleaned); err != nil || !bytes.Equal(again, cleaned) {
			t.Fatalf("Remove is not idempotent (%v)", err)
		}
		if _, ok, _ := Current(content); !ok {
			want := content
			if len(content) > 0 && content[len(content)-1] != '\n' {
				want = append(slices.Clip(content), fileEOL(content)...)
			}
			back, err := Remove(synced)
			if err != nil || !bytes.Equal(back, want) {
				t.Fatalf("sync then clean gave %q (%v), want %q", back, err, want)
			}
			resynced, err := Replace(back, block)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := Remove(resynced); err != nil || !bytes.Equal(again, back) {
				t.Fatalf("a second sync and clean gave %q (%v), want %q", again, err, back)
			}
		}
	})
}

// appendLine adds line to the file at path the way `tee -a` and a shell's
// `>>` do: a plain write at the end, with no care for what was there.
func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLineAppendedAfterSyncIsOwnLine: in a file whose last line had no
// line end, the block sync appends ends with its line end, so that a line
// appended afterwards (`echo … | sudo tee -a /etc/hosts`) is a line of
// its own after the END line: it resolves, a later sync and clean accept
// the file, and clean keeps the line.
func TestLineAppendedAfterSyncIsOwnLine(t *testing.T) {
	const added = "10.0.0.5 nas.lan\n"
	block := Block(testNames)
	for _, tt := range []struct{ name, content, eol string }{
		{"LF", "127.0.0.1 localhost\n::1 localhost", "\n"},
		{"CRLF", "127.0.0.1 localhost\r\n::1 localhost", "\r\n"},
		{"one line", "127.0.0.1 localhost", "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hosts")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if changed, err := Sync(path, block); err != nil || !changed {
				t.Fatalf("Sync: %v, %v", changed, err)
			}
			appendLine(t, path, added)
			wantBlock := strings.ReplaceAll(block, "\n", tt.eol)
			want := tt.content + tt.eol + wantBlock + added
			if got, _ := os.ReadFile(path); string(got) != want {
				t.Errorf("after sync and an append the file is\n%q\nwant\n%q", got, want)
			}
			if changed, err := Sync(path, block); err != nil || changed {
				t.Fatalf("Sync after the append: %v, %v; want no write", changed, err)
			}
			got, _ := os.ReadFile(path)
			if current, ok, err := Current(got); err != nil || !ok || string(current) != wantBlock {
				t.Fatalf("block after the append = %q, %v, %v; want %q", current, ok, err, wantBlock)
			}
			if outside := linesOutside(t, got); !slices.ContainsFunc(outside, func(l []byte) bool { return string(l) == added }) {
				t.Fatalf("%q is not a line of its own outside the block: %q", added, outside)
			}
			if changed, err := Clean(path); err != nil || !changed {
				t.Fatalf("Clean: %v, %v", changed, err)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.content+tt.eol+added {
				t.Fatalf("after clean the file is %q, want %q", got, tt.content+tt.eol+added)
			}
		})
	}
}
