// Package project names the project a folder belongs to, as
// `caddy localdev run` and `caddy localdev discover` do: from the project
// files a developer already has (package.json, go.mod, Cargo.toml,
// pyproject.toml), else the git top-level folder, else the folder itself;
// and, in a linked git worktree, the branch that tells it apart from the
// main checkout. It imports nothing from Caddy.
package project

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"golang.org/x/mod/modfile"
)

// The sources of a name, as Name.Source says them.
const (
	SourcePackageJSON = "package.json name"
	SourceGoMod       = "go.mod module path"
	SourceCargo       = "Cargo.toml package name"
	SourcePyProject   = "pyproject.toml project name"
	SourceGitTop      = "git top-level folder"
	SourceFolder      = "current folder"
)

// maxFileSize bounds the project files read: a real one is a few KiB.
const maxFileSize = 4 << 20

// Name is an inferred project name.
type Name struct {
	// Label is the name made a DNS label, such as "web".
	Label string
	// Source says where it came from, one of the Source constants.
	Source string
	// Dir is the folder it was found in.
	Dir string
}

// Infer returns the project name of dir. Project files are looked for in
// dir, then its parents up to the git top level (the nearest folder with a
// .git entry); outside a git repository, in dir only. The nearest folder
// that has a name wins; within it, package.json "name" (its @scope/
// dropped), go.mod's module path's last element (a /vN suffix skipped),
// Cargo.toml [package] name, pyproject.toml [project] name, in that order.
// A file without the key is passed over. Without any, the git top-level
// folder's name, else dir's own name. A project file that cannot be read
// or parsed, or a name that leaves no label, is an error naming the file
// and the value.
func Infer(dir string) (Name, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Name{}, err
	}
	top, inGit := gitTop(dir)
	for d := dir; ; {
		n, found, err := inFolder(d)
		if err != nil || found {
			return n, err
		}
		if !inGit || d == top {
			break
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if inGit {
		return folderName(top, SourceGitTop)
	}
	return folderName(dir, SourceFolder)
}

// folderName names a project after its folder.
func folderName(dir, source string) (Name, error) {
	base := filepath.Base(dir)
	l := Label(base)
	if l == "" {
		return Name{}, fmt.Errorf("the %s %q makes no DNS label", source, dir)
	}
	return Name{Label: l, Source: source, Dir: dir}, nil
}

// inFolder looks for a name in the project files of dir, in order.
func inFolder(dir string) (Name, bool, error) {
	for _, f := range []struct {
		file, source string
		parse        func([]byte) (string, bool, error)
	}{
		{"package.json", SourcePackageJSON, PackageJSONName},
		{"go.mod", SourceGoMod, GoModName},
		{"Cargo.toml", SourceCargo, CargoName},
		{"pyproject.toml", SourcePyProject, PyProjectName},
	} {
		p := filepath.Join(dir, f.file)
		data, err := readSmall(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Name{}, false, err
		}
		raw, ok, err := f.parse(data)
		if err != nil {
			return Name{}, false, fmt.Errorf("%s: %v", p, err)
		}
		if !ok {
			continue
		}
		l := Label(raw)
		if l == "" {
			return Name{}, false, fmt.Errorf("%s: the name %s makes no DNS label", p, quote(raw))
		}
		return Name{Label: l, Source: f.source, Dir: dir}, true, nil
	}
	return Name{}, false, nil
}

// readSmall reads a regular file of at most maxFileSize bytes.
func readSmall(p string) ([]byte, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	if fi.Size() > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxFileSize)
	}
	return os.ReadFile(p)
}

// quote quotes s for an error message, shortened to 80 characters.
func quote(s string) string {
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

// PackageJSONName returns package.json's "name" without its "@scope/".
// ok is false when the file has no name (an app that is never published).
func PackageJSONName(data []byte) (name string, ok bool, err error) {
	var pkg struct {
		Name *string `json:"name"`
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		return "", false, fmt.Errorf("not JSON: %v", err)
	}
	if pkg.Name == nil || strings.TrimSpace(*pkg.Name) == "" {
		return "", false, nil
	}
	n := *pkg.Name
	if strings.HasPrefix(n, "@") {
		if _, rest, found := strings.Cut(n, "/"); found {
			n = rest
		}
	}
	return n, true, nil
}

// GoModName returns the last element of go.mod's module path, skipping a
// major-version suffix: "github.com/acme/web/v2" is "web".
func GoModName(data []byte) (name string, ok bool, err error) {
	if !bytes.Contains(data, []byte("module")) {
		return "", false, nil
	}
	mod := modfile.ModulePath(data)
	if mod == "" {
		return "", false, nil
	}
	mod = strings.TrimSuffix(mod, "/")
	last := path.Base(mod)
	if isMajorSuffix(last) && path.Dir(mod) != "." {
		last = path.Base(path.Dir(mod))
	}
	return last, true, nil
}

// isMajorSuffix reports whether s is a module major version such as "v2".
func isMajorSuffix(s string) bool {
	if len(s) < 2 || s[0] != 'v' || s[1] == '0' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// CargoName returns Cargo.toml's [package] name (a workspace root has
// none).
func CargoName(data []byte) (name string, ok bool, err error) {
	var c struct {
		Package struct {
			Name any `toml:"name"`
		} `toml:"package"`
	}
	if _, err := toml.Decode(string(data), &c); err != nil {
		return "", false, fmt.Errorf("not TOML: %v", err)
	}
	return tomlString(c.Package.Name, "[package] name")
}

// PyProjectName returns pyproject.toml's [project] name.
func PyProjectName(data []byte) (name string, ok bool, err error) {
	var p struct {
		Project struct {
			Name any `toml:"name"`
		} `toml:"project"`
	}
	if _, err := toml.Decode(string(data), &p); err != nil {
		return "", false, fmt.Errorf("not TOML: %v", err)
	}
	return tomlString(p.Project.Name, "[project] name")
}

// tomlString accepts a missing key (not ok) or a string.
func tomlString(v any, key string) (string, bool, error) {
	switch s := v.(type) {
	case nil:
		return "", false, nil
	case string:
		if strings.TrimSpace(s) == "" {
			return "", false, nil
		}
		return s, true, nil
	}
	return "", false, fmt.Errorf("%s is a %T, not a string", key, v)
}

// Label makes s a DNS label: lowercase, every character other than a–z
// and 0–9 a '-', runs of '-' made one (IDNA reserves "--" in a label),
// '-' trimmed from both ends, at most 63 characters. It returns "" when
// nothing is left.
func Label(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if b.Len() > 64 { // enough: at most one '-' is trimmed in front
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	l := strings.Trim(b.String(), "-")
	if len(l) > 63 {
		l = strings.TrimRight(l[:63], "-")
	}
	return l
}

// gitTop returns the nearest folder at or above dir with a .git entry (a
// folder in a main checkout, a file in a linked worktree or submodule).
func gitTop(dir string) (string, bool) {
	for d := dir; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d, true
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", false
		}
		d = parent
	}
}

// Worktree returns, when dir is inside a linked git worktree (one whose
// git dir differs from the repository's common dir, as `git worktree add`
// makes), its checked-out branch made a label ("fix/ui" is "fix-ui"), or
// on a detached HEAD the commit's first 7 hex digits. ok is false in a
// main checkout, a submodule, or outside git. It reads git's files itself.
func Worktree(dir string) (prefix string, ok bool, err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return "", false, err
	}
	top, inGit := gitTop(dir)
	if !inGit {
		return "", false, nil
	}
	dotGit := filepath.Join(top, ".git")
	fi, err := os.Stat(dotGit)
	if err != nil {
		return "", false, err
	}
	if fi.IsDir() {
		return "", false, nil // the main checkout
	}
	data, err := readSmall(dotGit)
	if err != nil {
		return "", false, err
	}
	gitDir, found := strings.CutPrefix(strings.TrimSpace(string(data)), "gitdir:")
	if !found {
		return "", false, fmt.Errorf("%s: not a gitdir file: %s", dotGit, quote(string(data)))
	}
	gitDir = strings.TrimSpace(gitDir)
	if !filepath.IsAbs(gitDir) {
		gitDir = filepath.Join(top, gitDir)
	}
	// A linked worktree's git dir names the common dir; a submodule's
	// does not, as it is a repository of its own.
	if _, err := os.Stat(filepath.Join(gitDir, "commondir")); errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	} else if err != nil {
		return "", false, err
	}
	head, err := readSmall(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return "", false, err
	}
	return headLabel(string(head))
}

// headLabel makes a label of a HEAD file's content.
func headLabel(head string) (string, bool, error) {
	head = strings.TrimSpace(head)
	if ref, found := strings.CutPrefix(head, "ref:"); found {
		ref = strings.TrimSpace(ref)
		branch := strings.TrimPrefix(ref, "refs/heads/")
		l := Label(branch)
		if l == "" {
			return "", false, fmt.Errorf("the worktree's branch %s makes no DNS label", quote(branch))
		}
		return l, true, nil
	}
	if len(head) < 7 || !isHex(head) {
		return "", false, fmt.Errorf("the worktree's HEAD %s is neither a branch nor a commit", quote(head))
	}
	return strings.ToLower(head[:7]), true, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
