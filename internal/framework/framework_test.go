package framework

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const p = 51234

func TestApplyDirect(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		cmd, want, framework string
		port                 int
	}{
		{"vite", "vite --port 51234 --host 127.0.0.1 --strictPort", "vite", 0},
		{"vite dev", "vite dev --port 51234 --host 127.0.0.1 --strictPort", "vite", 0},
		{"vite serve --open", "vite serve --open --port 51234 --host 127.0.0.1 --strictPort", "vite", 0},
		{"./node_modules/.bin/vite", "./node_modules/.bin/vite --port 51234 --host 127.0.0.1 --strictPort", "vite", 0},
		{"vite --port 5174", "vite --port 5174 --host 127.0.0.1 --strictPort", "vite", 5174},
		{"vite --port=5174 --host ::1", "vite --port=5174 --host ::1 --strictPort", "vite", 5174},
		{"vite --port $PORT --host $HOST --strictPort", "vite --port $PORT --host $HOST --strictPort", "vite", 0},
		{"vite build", "vite build", "", 0},
		{"vite preview", "vite preview", "", 0},
		{"astro dev", "astro dev --port 51234 --host 127.0.0.1 --strictPort", "astro dev", 0},
		{"astro build", "astro build", "", 0},
		{"react-router dev", "react-router dev --port 51234 --host 127.0.0.1 --strictPort", "react-router dev", 0},
		{"ng serve", "ng serve --port 51234 --host 127.0.0.1", "ng serve", 0},
		{"ng build", "ng build", "", 0},
		{"webpack serve --mode development", "webpack serve --mode development --port 51234 --host 127.0.0.1", "webpack serve", 0},
		{"webpack", "webpack", "", 0},
		{"webpack-dev-server", "webpack-dev-server --port 51234 --host 127.0.0.1", "webpack-dev-server", 0},
		{"next dev", "next dev --hostname 127.0.0.1", "next dev", 0},
		{"next dev -p 4000 -H localhost", "next dev -p 4000 -H localhost", "next dev", 4000},
		{"next dev -p4000", "next dev -p4000 --hostname 127.0.0.1", "next dev", 4000},
		{"next start", "next start", "", 0},
		{"npx vite", "npx vite --port 51234 --host 127.0.0.1 --strictPort", "vite", 0},
		{"npx --yes next dev", "npx --yes next dev --hostname 127.0.0.1", "next dev", 0},
		{"bunx vite --strictPort", "bunx vite --strictPort --port 51234 --host 127.0.0.1", "vite", 0},
		{"python -m http.server", "python -m http.server", "", 0},
		{`C:\app\node_modules\.bin\vite.cmd`, `C:\app\node_modules\.bin\vite.cmd --port 51234 --host 127.0.0.1 --strictPort`, "vite", 0},
	} {
		plan, err := Apply(strings.Fields(c.cmd), dir, p)
		if err != nil {
			t.Errorf("Apply(%q): %v", c.cmd, err)
			continue
		}
		if got := strings.Join(plan.Argv, " "); got != c.want || plan.Framework != c.framework || plan.Port != c.port {
			t.Errorf("Apply(%q) = %q (%q, port %d); want %q (%q, port %d)", c.cmd, got, plan.Framework, plan.Port, c.want, c.framework, c.port)
		}
	}
}

func TestApplyBadPort(t *testing.T) {
	for _, cmd := range []string{"vite --port 0", "vite --port=70000", "next dev -p x", "vite --port abc"} {
		_, err := Apply(strings.Fields(cmd), t.TempDir(), p)
		if err == nil || !strings.Contains(err.Error(), "is not a port") {
			t.Errorf("Apply(%q) error = %v, want one naming the value", cmd, err)
		}
	}
}

func writePackage(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestApplyScripts(t *testing.T) {
	dir := t.TempDir()
	writePackage(t, dir, `{"name": "web", "scripts": {
		"dev": "vite",
		"start": "NODE_ENV=development cross-env FOO=1 next dev",
		"ported": "vite --port 5174",
		"quoted": "'vite' \"serve\"",
		"env": "vite --port $PORT",
		"pipe": "vite && echo done",
		"sub": "echo $(vite)",
		"tsc": "tsc && node dist/server.js",
		"build": "vite build",
		"num": 3
	}}`)
	sub := filepath.Join(dir, "src", "deep")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd, want, framework string
		port                 int
		note                 string
	}{
		{"npm run dev", "npm run dev -- --port 51234 --host 127.0.0.1 --strictPort", "vite", 0, ""},
		{"npm run --silent dev", "npm run --silent dev -- --port 51234 --host 127.0.0.1 --strictPort", "vite", 0, ""},
		{"npm run dev -- --open", "npm run dev -- --open --port 51234 --host 127.0.0.1 --strictPort", "vite", 0, ""},
		{"npm run dev -- --port 5175", "npm run dev -- --port 5175 --host 127.0.0.1 --strictPort", "vite", 5175, ""},
		{"npm run dev --port 5175", "npm run dev --port 5175 -- --port 51234 --host 127.0.0.1 --strictPort", "vite", 0, ""},
		{"pnpm run dev", "pnpm run dev --port 51234 --host 127.0.0.1 --strictPort", "vite", 0, ""},
		{"pnpm dev", "pnpm dev --port 51234 --host 127.0.0.1 --strictPort", "vite", 0, ""},
		{"pnpm dev -- --open", "pnpm dev --port 51234 --host 127.0.0.1 --strictPort -- --open", "vite", 0, ""},
		{"yarn dev", "yarn dev --port 51234 --host 127.0.0.1 --strictPort", "vite", 0, ""},
		{"yarn run dev -- --port 5176", "yarn run dev -- --port 5176 --host 127.0.0.1 --strictPort", "vite", 5176, ""},
		{"bun run dev", "bun run dev --port 51234 --host 127.0.0.1 --strictPort", "vite", 0, ""},
		{"npm start", "npm start -- --hostname 127.0.0.1", "next dev", 0, ""},
		{"npm run ported", "npm run ported -- --host 127.0.0.1 --strictPort", "vite", 5174, ""},
		{"npm run quoted", "npm run quoted -- --port 51234 --host 127.0.0.1 --strictPort", "vite", 0, ""},
		{"npm run env", "npm run env -- --host 127.0.0.1 --strictPort", "vite", 0, ""},
		{"npm run pipe", "npm run pipe", "", 0, "shell pipeline"},
		{"npm run sub", "npm run sub", "", 0, "shell pipeline"},
		{"npm run tsc", "npm run tsc", "", 0, ""},
		{"npm run build", "npm run build", "", 0, ""},
		{"npm run num", "npm run num", "", 0, ""},
		{"npm run missing", "npm run missing", "", 0, ""},
		{"npm run", "npm run", "", 0, ""},
		{"npm install", "npm install", "", 0, ""},
	} {
		for _, d := range []string{dir, sub} {
			plan, err := Apply(strings.Fields(c.cmd), d, p)
			if err != nil {
				t.Errorf("Apply(%q): %v", c.cmd, err)
				continue
			}
			got := strings.Join(plan.Argv, " ")
			if got != c.want || plan.Framework != c.framework || plan.Port != c.port || !strings.Contains(plan.Note, c.note) || (c.note == "") != (plan.Note == "") {
				t.Errorf("Apply(%q) in %s = %q (%q, port %d, note %q); want %q (%q, port %d, note %q)",
					c.cmd, d, got, plan.Framework, plan.Port, plan.Note, c.want, c.framework, c.port, c.note)
			}
		}
	}
}

func TestApplyBadPackageJSON(t *testing.T) {
	dir := t.TempDir()
	writePackage(t, dir, `{"scripts": {"dev": "vite"`)
	_, err := Apply([]string{"npm", "run", "dev"}, dir, p)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "package.json")) || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("error = %v, want one naming the file", err)
	}
	writePackage(t, dir, `{"scripts": {"dev": "vite --port nope"}}`)
	_, err = Apply([]string{"npm", "run", "dev"}, dir, p)
	if err == nil || !strings.Contains(err.Error(), `"nope" is not a port`) || !strings.Contains(err.Error(), `"dev" script`) {
		t.Errorf("error = %v, want one naming the script and the value", err)
	}
}

func TestSplitScript(t *testing.T) {
	for _, c := range []struct {
		in     string
		words  string
		simple bool
	}{
		{"vite --port 1", "vite|--port|1", true},
		{`vite "a b" 'c d' e\ f`, "vite|a b|c d|e f", true},
		{`echo "\"q\""`, `echo|"q"`, true},
		{"a && b", "a|b", false},
		{"a; b", "a|b", false},
		{"a | b", "a|b", false},
		{"a > log", "a|log", false},
		{"a &", "a", false},
		{"(a)", "a", false},
		{"a `b`", "a|b", false},
		{`a "$(b)"`, "a|$(b)", false},
		{"a\nb", "a|b", false},
		{`a 'unterminated`, "a", false},
		{`a "unterminated`, "a", false},
		{"FOO=1 vite", "FOO=1|vite", true},
	} {
		words, simple := splitScript(c.in)
		if strings.Join(words, "|") != c.words || simple != c.simple {
			t.Errorf("splitScript(%q) = %q, %v; want %q, %v", c.in, words, simple, c.words, c.simple)
		}
	}
}

func FuzzSplitScript(f *testing.F) {
	for _, s := range []string{"vite --port 1", `a "b\"c" 'd'`, "a && b", "a `b`", `"`, `'`, `\`, "$(", "a\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, simple := splitScript(s)
		if simple {
			for _, op := range []string{"&&", "||", ";", "|", "\n"} {
				if strings.Contains(s, op) && !strings.ContainsAny(s, `'"\`) {
					t.Fatalf("splitScript(%q) simple with %q", s, op)
				}
			}
		}
		total := 0
		for _, w := range words {
			total += len(w)
		}
		if total > len(s) {
			t.Fatalf("splitScript(%q) made %d bytes of words", s, total)
		}
	})
}

func FuzzApply(f *testing.F) {
	for _, s := range []string{"vite --port 5174", "next dev -p", "npx", "ng serve --port=", "webpack-dev-server --host"} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		argv := strings.Fields(s)
		plan, err := Apply(argv, dir, p)
		if err != nil {
			return
		}
		if len(plan.Argv) != len(argv)+len(plan.Added) {
			t.Fatalf("Apply(%q) = %q with added %q", argv, plan.Argv, plan.Added)
		}
		for i, a := range argv {
			if plan.Argv[i] != a {
				t.Fatalf("Apply(%q) changed the user's arguments: %q", argv, plan.Argv)
			}
		}
		if plan.Port < 0 || plan.Port > 65535 {
			t.Fatalf("Apply(%q) port %d", argv, plan.Port)
		}
	})
}
