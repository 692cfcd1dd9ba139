package project

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLabel(t *testing.T) {
	long := strings.Repeat("a", 200)
	for in, want := range map[string]string{
		"web":                          "web",
		"My App":                       "my-app",
		"@acme/web":                    "acme-web",
		"fix/UI":                       "fix-ui",
		"__x__":                        "x",
		"a__b":                         "a-b", // never "--": IDNA reserves it
		"ab--cd":                       "ab-cd",
		"café":                         "caf",
		"🚀web":                         "web",
		"@@":                           "",
		"🚀":                            "",
		"":                             "",
		"---":                          "",
		long:                           strings.Repeat("a", 63),
		strings.Repeat("ab-", 30):      strings.TrimRight(strings.Repeat("ab-", 21), "-"),
		"x" + strings.Repeat("é", 100): "x",
	} {
		if got := Label(in); got != want {
			t.Errorf("Label(%q) = %q, want %q", in, got, want)
		}
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPackageJSONName(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
		err      string
	}{
		{`{"name": "web"}`, "web", true, ""},
		{`{"name": "@acme/web", "version": "1.0.0"}`, "web", true, ""},
		{`{"name": "@acme"}`, "@acme", true, ""},
		{`{"private": true}`, "", false, ""},
		{`{"name": ""}`, "", false, ""},
		{`{"name": 3}`, "", false, "not JSON"},
		{`{"name": "web"`, "", false, "not JSON"},
		{`name = "web"`, "", false, "not JSON"},
		{``, "", false, "not JSON"},
	} {
		got, ok, err := PackageJSONName([]byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("PackageJSONName(%q) error = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || ok != c.ok || got != c.want {
			t.Errorf("PackageJSONName(%q) = %q, %v, %v; want %q, %v", c.in, got, ok, err, c.want, c.ok)
		}
	}
}

func TestGoModName(t *testing.T) {
	for in, want := range map[string]string{
		"module github.com/acme/web\n\ngo 1.22\n":   "web",
		"module github.com/acme/web/v2\n":           "web",
		"module \"github.com/acme/api/v10\" // c\n": "api",
		"// a comment\nmodule example.com/tool\n":   "tool",
		"module v2\n":                 "v2",
		"module gopkg.in/yaml.v3\n":   "yaml.v3",
		"module github.com/acme/v0\n": "v0",
		"go 1.22\n":                   "",
		"":                            "",
		"moduleless nonsense":         "",
	} {
		got, ok, err := GoModName([]byte(in))
		if err != nil || got != want || ok != (want != "") {
			t.Errorf("GoModName(%q) = %q, %v, %v; want %q", in, got, ok, err, want)
		}
	}
}

func TestTOMLNames(t *testing.T) {
	for _, c := range []struct {
		parse    func([]byte) (string, bool, error)
		in, want string
		err      string
	}{
		{CargoName, "[package]\nname = \"my_crate\"\nversion = \"0.1.0\"\n", "my_crate", ""},
		{CargoName, "[workspace]\nmembers = [\"a\"]\n", "", ""},
		{CargoName, "[package]\nname = 3\n", "", "not a string"},
		{CargoName, "[package\nname = \"x\"", "", "not TOML"},
		{CargoName, "[package]\nname = \"a\"\nname = \"b\"\n", "", "not TOML"},
		{PyProjectName, "[project]\nname = \"Django-App\"\n", "Django-App", ""},
		{PyProjectName, "[tool.poetry]\nname = \"x\"\n", "", ""},
		{PyProjectName, "[project]\nname = [\"x\"]\n", "", "not a string"},
		{PyProjectName, "project = \"x\"\n", "", "not TOML"},
		{PyProjectName, "\x00", "", "not TOML"},
	} {
		got, ok, err := c.parse([]byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parse(%q) error = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want || ok != (c.want != "") {
			t.Errorf("parse(%q) = %q, %v, %v; want %q", c.in, got, ok, err, c.want)
		}
	}
}

// needGit skips without git, except in CI, where it must be installed.
func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must install git:", err)
		}
		t.Skip("needs git:", err)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %q: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestInferOutsideGit(t *testing.T) {
	root := t.TempDir()
	app := filepath.Join(root, "My App")
	sub := filepath.Join(app, "src")
	write(t, app, "package.json", `{"name": "@acme/web"}`)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// Outside git only the folder itself counts: src has no project file.
	want(t, sub, Name{"src", SourceFolder, sub})
	want(t, app, Name{"web", SourcePackageJSON, app})
}

func want(t *testing.T, dir string, w Name) {
	t.Helper()
	got, err := Infer(dir)
	if err != nil || got != w {
		t.Errorf("Infer(%s) = %+v, %v; want %+v", dir, got, err, w)
	}
}

func TestInferOrderAndNearest(t *testing.T) {
	needGit(t)
	root := filepath.Join(t.TempDir(), "Repo_Top")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, root, "init", "-q")
	want(t, root, Name{"repo-top", SourceGitTop, root})

	svc := filepath.Join(root, "services", "api")
	deep := filepath.Join(svc, "internal", "x")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	want(t, deep, Name{"repo-top", SourceGitTop, root})

	write(t, root, "pyproject.toml", "[project]\nname = \"top-py\"\n")
	want(t, deep, Name{"top-py", SourcePyProject, root})
	write(t, root, "Cargo.toml", "[package]\nname = \"top_rs\"\n")
	want(t, deep, Name{"top-rs", SourceCargo, root})
	write(t, root, "go.mod", "module github.com/acme/topgo/v3\n")
	want(t, deep, Name{"topgo", SourceGoMod, root})
	write(t, root, "package.json", `{"private": true}`) // no name: passed over
	want(t, deep, Name{"topgo", SourceGoMod, root})
	write(t, root, "package.json", `{"name": "top"}`)
	want(t, deep, Name{"top", SourcePackageJSON, root})

	// The nearest folder with a name wins over the order.
	write(t, svc, "go.mod", "module example.com/api\n")
	want(t, deep, Name{"api", SourceGoMod, svc})
	want(t, root, Name{"top", SourcePackageJSON, root})

	// Not above the git top level.
	outer := filepath.Dir(root)
	write(t, outer, "package.json", `{"name": "outer"}`)
	if err := os.Remove(filepath.Join(root, "package.json")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"go.mod", "Cargo.toml", "pyproject.toml"} {
		_ = os.Remove(filepath.Join(root, f))
	}
	want(t, root, Name{"repo-top", SourceGitTop, root})
}

func TestInferBadInput(t *testing.T) {
	for _, c := range []struct {
		file, content, err string
	}{
		{"package.json", `{"name": "web",}`, "package.json: not JSON"},
		{"package.json", `{"name": "@@"}`, `the name "@@" makes no DNS label`},
		{"package.json", `{"name": "🚀"}`, `the name "🚀" makes no DNS label`},
		{"package.json", `{"name": ["web"]}`, "not JSON"},
		{"Cargo.toml", "[package]\nname = \"web", "Cargo.toml: not TOML"},
		{"pyproject.toml", "[project]\nname = \"%%%\"\n", `the name "%%%" makes no DNS label`},
	} {
		dir := t.TempDir()
		write(t, dir, c.file, c.content)
		_, err := Infer(dir)
		if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), filepath.Join(dir, c.file)) {
			t.Errorf("%s %q: error = %v, want one naming the file and %q", c.file, c.content, err, c.err)
		}
	}

	// A 200-character name is cut to a 63-character label.
	dir := t.TempDir()
	write(t, dir, "package.json", `{"name": "`+strings.Repeat("x", 200)+`"}`)
	want(t, dir, Name{strings.Repeat("x", 63), SourcePackageJSON, dir})

	// A folder whose name makes no label.
	odd := filepath.Join(t.TempDir(), "@@")
	if err := os.Mkdir(odd, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Infer(odd); err == nil || !strings.Contains(err.Error(), "makes no DNS label") {
		t.Errorf("Infer(%s) error = %v", odd, err)
	}

	// A project file that is a folder.
	dir = t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "package.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Infer(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("package.json folder: error = %v", err)
	}
}

func TestWorktree(t *testing.T) {
	needGit(t)
	root := filepath.Join(t.TempDir(), "web")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, root, "init", "-q", "-b", "main")
	write(t, root, "package.json", `{"name": "web"}`)
	git(t, root, "add", ".")
	git(t, root, "commit", "-q", "-m", "first")

	if p, ok, err := Worktree(root); ok || err != nil {
		t.Errorf("Worktree(main checkout) = %q, %v, %v; want not a worktree", p, ok, err)
	}
	if p, ok, err := Worktree(t.TempDir()); ok || err != nil {
		t.Errorf("Worktree(outside git) = %q, %v, %v", p, ok, err)
	}

	linked := filepath.Join(filepath.Dir(root), "web-fix")
	git(t, root, "worktree", "add", "-q", "-b", "Fix/UI", linked)
	sub := filepath.Join(linked, "src")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{linked, sub} {
		if p, ok, err := Worktree(d); p != "fix-ui" || !ok || err != nil {
			t.Errorf("Worktree(%s) = %q, %v, %v; want fix-ui", d, p, ok, err)
		}
	}
	want(t, sub, Name{"web", SourcePackageJSON, linked})

	detached := filepath.Join(filepath.Dir(root), "web-detached")
	git(t, root, "worktree", "add", "-q", "--detach", detached, "HEAD")
	commit := git(t, root, "rev-parse", "HEAD")
	if p, ok, err := Worktree(detached); p != commit[:7] || !ok || err != nil {
		t.Errorf("Worktree(detached) = %q, %v, %v; want %s", p, ok, err, commit[:7])
	}

	// A branch name that makes no label is an error naming it.
	gitDir := git(t, linked, "rev-parse", "--absolute-git-dir")
	if err := os.WriteFile(filepath.Join(gitDir, "HEAD"), []byte("ref: refs/heads/@@\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Worktree(linked); err == nil || !strings.Contains(err.Error(), `"@@"`) {
		t.Errorf("branch @@: error = %v", err)
	}
	if err := os.WriteFile(filepath.Join(gitDir, "HEAD"), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Worktree(linked); err == nil || !strings.Contains(err.Error(), "garbage") {
		t.Errorf("HEAD garbage: error = %v", err)
	}
	if err := os.WriteFile(filepath.Join(linked, ".git"), []byte("nonsense"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Worktree(linked); err == nil || !strings.Contains(err.Error(), "not a gitdir file") {
		t.Errorf(".git nonsense: error = %v", err)
	}
}

// A submodule's .git is a file too, but its git dir has no commondir.
func TestWorktreeRelativeGitdirAndSubmodule(t *testing.T) {
	root := t.TempDir()
	gitDir := filepath.Join(root, "meta", "wt")
	write(t, gitDir, "HEAD", "ref: refs/heads/feature-x\n")
	write(t, gitDir, "commondir", "../..\n")
	wt := filepath.Join(root, "checkout")
	write(t, wt, ".git", "gitdir: ../meta/wt\n")
	if p, ok, err := Worktree(wt); p != "feature-x" || !ok || err != nil {
		t.Errorf("relative gitdir: %q, %v, %v", p, ok, err)
	}
	if err := os.Remove(filepath.Join(gitDir, "commondir")); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := Worktree(wt); ok || err != nil {
		t.Errorf("submodule: %q, %v, %v; want not a worktree", p, ok, err)
	}
}

func FuzzLabel(f *testing.F) {
	for _, s := range []string{"web", "@acme/web", "🚀", "a--b", strings.Repeat("x-", 100), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := Label(s)
		if len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") || strings.Contains(l, "--") {
			t.Fatalf("Label(%q) = %q", s, l)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				t.Fatalf("Label(%q) = %q has %q", s, l, c)
			}
		}
		if Label(l) != l {
			t.Fatalf("Label not idempotent on %q", l)
		}
	})
}

func fuzzParser(f *testing.F, parse func([]byte) (string, bool, error), seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		name, ok, err := parse(data)
		if err != nil && (ok || name != "") {
			t.Fatalf("error %v with a name %q", err, name)
		}
		if !ok && name != "" {
			t.Fatalf("not ok with a name %q", name)
		}
		if ok && strings.TrimSpace(name) == "" {
			t.Fatal("ok with an empty name")
		}
		if ok && utf8.Valid(data) && !utf8.ValidString(name) {
			t.Fatalf("name %q is not UTF-8", name)
		}
	})
}

func FuzzPackageJSONName(f *testing.F) {
	fuzzParser(f, PackageJSONName, `{"name":"@a/b"}`, `{"name":"@@"}`, `{}`, `[]`, `{"name":null}`, `nul`)
}

func FuzzGoModName(f *testing.F) {
	fuzzParser(f, GoModName, "module a/b/v2\n", "module \"x\"\n", "module (\n", "go 1.2\n", "module a/\n")
}

func FuzzCargoName(f *testing.F) {
	fuzzParser(f, CargoName, "[package]\nname=\"x\"\n", "[package]\nname=1\n", "[[package]]\n", "a=")
}

func FuzzPyProjectName(f *testing.F) {
	fuzzParser(f, PyProjectName, "[project]\nname=\"x\"\n", "[project]\nname=''\n", "[project.name]\n", "'''")
}
