// Package framework adds the command-line flags that popular dev servers
// need to listen where `caddy localdev run` routes to, because they ignore
// the PORT or HOST environment variables: Vite (and Astro and React Router,
// built on it), Angular's ng serve, webpack-dev-server and Next.js. It
// looks through npm, pnpm, yarn and bun scripts and through npx and bunx,
// never adds a flag the user gave, and reads a port the user gave. It
// imports nothing from Caddy.
package framework

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Host is the address the added flags bind dev servers to.
const Host = "127.0.0.1"

// Plan is what Apply decided for a command.
type Plan struct {
	// Argv is the command to run: the given one with Added appended
	// where the runner passes them to the server.
	Argv []string
	// Framework names the dev server found, such as "vite" or "next dev";
	// empty when none.
	Framework string
	// Script is the package.json script the server was found in, as in
	// "npm run dev"; empty when it was the command itself.
	Script string
	// Added are the flags added, such as ["--port", "5173", "--host",
	// "127.0.0.1", "--strictPort"].
	Added []string
	// Port is the port the user's own flag gives the server (such as
	// `vite --port 5174`), or 0.
	Port int
	// Note says why no flag was added where one might be expected, for
	// the user: a script that is a shell pipeline, say.
	Note string
}

// server describes a dev server that ignores PORT or HOST.
type server struct {
	name     string   // as printed, e.g. "vite", "next dev"
	port     []string // the flags that set its port
	host     []string // the flags that set its host
	strict   string   // a flag that makes it fail rather than move port, or ""
	addPort  bool     // whether it needs --port (Next.js reads PORT)
	hostFlag string   // the flag added for the host
}

var (
	vite    = server{port: []string{"--port"}, host: []string{"--host"}, strict: "--strictPort", addPort: true, hostFlag: "--host"}
	ngServe = server{port: []string{"--port"}, host: []string{"--host"}, addPort: true, hostFlag: "--host"}
	webpack = server{port: []string{"--port"}, host: []string{"--host"}, addPort: true, hostFlag: "--host"}
	nextDev = server{port: []string{"--port", "-p"}, host: []string{"--hostname", "-H"}, hostFlag: "--hostname"}
)

// knownServers are the dev servers started by a program and its
// subcommand ("ng serve"), or by the program alone ("webpack-dev-server").
// Vite, which runs with or without a subcommand, is identify's own case.
var knownServers = map[string]server{
	"astro dev":          named(vite, "astro dev"),
	"react-router dev":   named(vite, "react-router dev"),
	"ng serve":           named(ngServe, "ng serve"),
	"ng s":               named(ngServe, "ng serve"),
	"webpack serve":      named(webpack, "webpack serve"),
	"webpack s":          named(webpack, "webpack serve"),
	"webpack-dev-server": named(webpack, "webpack-dev-server"),
	"next dev":           named(nextDev, "next dev"),
}

func named(s server, name string) server {
	s.name = name
	return s
}

// identify returns the dev server that words (a command and its
// arguments, environment assignments and wrappers already stripped)
// start, if it is one this package knows.
func identify(words []string) (server, bool) {
	if len(words) == 0 {
		return server{}, false
	}
	prog, sub := program(words[0]), firstPositional(words[1:])
	if prog == "vite" {
		switch sub {
		case "build", "optimize", "preview":
			return server{}, false
		}
		return named(vite, "vite"), true
	}
	if s, ok := knownServers[prog+" "+sub]; ok && sub != "" {
		return s, true
	}
	s, ok := knownServers[prog]
	return s, ok
}

// program is a command's name without folder and Windows extension.
func program(word string) string {
	base := word
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	lower := strings.ToLower(base)
	for _, ext := range []string{".cmd", ".exe", ".ps1", ".bat", ".js", ".mjs"} {
		if strings.HasSuffix(lower, ext) {
			return base[:len(base)-len(ext)]
		}
	}
	return base
}

// firstPositional is the first argument that is not a flag, or "".
func firstPositional(args []string) string {
	for _, a := range args {
		if a == "--" {
			return ""
		}
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// Apply looks at argv, run in dir, and returns the plan for a server that
// listens on port (the one run picked). An error is a port flag the user
// gave with a value that is not a port, or a package.json that is not
// JSON.
func Apply(argv []string, dir string, port int) (Plan, error) {
	plan := Plan{Argv: argv}
	if len(argv) == 0 {
		return plan, nil
	}
	words := argv
	switch program(argv[0]) {
	case "npm", "pnpm", "yarn", "bun":
		return applyScript(argv, dir, port)
	case "npx", "bunx":
		// npx vite --port 5174: npx passes everything after the
		// package to it.
		i := 1
		for i < len(argv) && strings.HasPrefix(argv[i], "-") {
			i++
		}
		words = argv[i:]
	}
	s, ok := identify(words)
	if !ok {
		return plan, nil
	}
	plan.Framework = s.name
	given, err := userPort(s, words[1:])
	if err != nil {
		return plan, err
	}
	plan.Port = given
	plan.Added = s.flags(words[1:], port)
	plan.Argv = append(append([]string(nil), argv...), plan.Added...)
	return plan, nil
}

// flags returns the flags s needs that args lack.
func (s server) flags(args []string, port int) []string {
	var add []string
	if s.addPort && !hasFlag(args, s.port) {
		add = append(add, s.port[0], strconv.Itoa(port))
	}
	if !hasFlag(args, s.host) {
		add = append(add, s.hostFlag, Host)
	}
	if s.strict != "" && !hasFlag(args, []string{s.strict}) {
		add = append(add, s.strict)
	}
	return add
}

// hasFlag reports whether args set one of flags ("--port 1", "--port=1",
// "-p1" for a short one).
func hasFlag(args, flags []string) bool {
	_, ok := flagValue(args, flags)
	return ok
}

// flagValue returns the value of the last of flags in args.
func flagValue(args, flags []string) (value string, found bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, f := range flags {
			switch {
			case a == f:
				found = true
				value = ""
				if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
					value = args[i+1]
				}
			case strings.HasPrefix(a, f+"="):
				found, value = true, a[len(f)+1:]
			case len(f) == 2 && strings.HasPrefix(a, f) && len(a) > 2:
				found, value = true, a[2:]
			}
		}
	}
	return value, found
}

// userPort returns the port the user's own flag sets, 0 without one, or
// an error for a value that is not a port. A value the shell expands
// later ($PORT) counts as no port of the user's.
func userPort(s server, args []string) (int, error) {
	v, ok := flagValue(args, s.port)
	if !ok || strings.Contains(v, "$") {
		return 0, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%s %s %q is not a port (1–65535)", s.name, s.port[0], v)
	}
	return p, nil
}

// applyScript handles npm|pnpm|yarn|bun run <script>, start and dev.
func applyScript(argv []string, dir string, port int) (Plan, error) {
	plan := Plan{Argv: argv}
	manager := program(argv[0])
	// Arguments of the manager before the script name: flags only.
	i := 1
	for i < len(argv) && strings.HasPrefix(argv[i], "-") {
		i++
	}
	if i >= len(argv) {
		return plan, nil
	}
	var script string
	switch argv[i] {
	case "run", "run-script":
		j := i + 1
		for j < len(argv) && strings.HasPrefix(argv[j], "-") && argv[j] != "--" {
			j++
		}
		if j >= len(argv) || argv[j] == "--" {
			return plan, nil
		}
		script, i = argv[j], j+1
	case "start", "dev":
		script, i = argv[i], i+1
	default:
		return plan, nil
	}
	extra := argv[i:]
	plan.Script = strings.Join(argv[:i], " ")
	body, found, err := packageScript(dir, script)
	if err != nil || !found {
		return plan, err
	}
	words, simple := splitScript(body)
	if !simple {
		if first, ok := pipelineServer(words); ok {
			plan.Note = fmt.Sprintf("the %q script is a shell pipeline (%s): added no flags; give %s --port and --host in it yourself",
				script, shorten(body), first)
		}
		return plan, nil
	}
	words = stripWrappers(words)
	// What the server sees: the script's words, then what the manager
	// passes on (npm's after "--").
	passed := extra
	if manager == "npm" {
		passed = nil
		for k, a := range extra {
			if a == "--" {
				passed = extra[k+1:]
				break
			}
		}
	} else if len(extra) > 0 && extra[0] == "--" && manager != "pnpm" {
		passed = extra[1:]
	}
	all := append(append([]string(nil), words...), passed...)
	s, ok := identify(all)
	if !ok {
		return plan, nil
	}
	plan.Framework = s.name
	given, err := userPort(s, all[1:])
	if err != nil {
		return plan, fmt.Errorf("the %q script: %v", script, err)
	}
	plan.Port = given
	plan.Added = s.flags(all[1:], port)
	if len(plan.Added) == 0 {
		return plan, nil
	}
	out := append([]string(nil), argv...)
	// npm takes flags for the script after "--" (before it they are its
	// own); pnpm, yarn and bun pass what follows the script name on, and
	// pnpm would pass a "--" on literally, which Vite takes as "no more
	// options".
	switch {
	case manager == "npm" && !contains(extra, "--"):
		out = append(out, "--")
	case manager == "pnpm" && contains(extra, "--"):
		k := len(argv) - len(extra) + indexOf(extra, "--")
		out = append(append(append([]string(nil), argv[:k]...), plan.Added...), argv[k:]...)
		plan.Argv = out
		return plan, nil
	}
	plan.Argv = append(out, plan.Added...)
	return plan, nil
}

// pipelineServer reports whether a word of a pipeline starts a server this
// package knows, and which.
func pipelineServer(words []string) (string, bool) {
	for i := range words {
		if s, ok := identify(stripWrappers(words[i:])); ok {
			return s.name, true
		}
	}
	return "", false
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func shorten(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}

// stripWrappers drops leading environment assignments (NODE_ENV=dev) and
// cross-env with its assignments.
func stripWrappers(words []string) []string {
	for len(words) > 0 {
		w := words[0]
		switch {
		case program(w) == "cross-env":
			words = words[1:]
		case isAssignment(w):
			words = words[1:]
		default:
			return words
		}
	}
	return words
}

func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for i, c := range name {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// packageScript returns the script of the nearest package.json at or
// above dir, as npm finds it.
func packageScript(dir, name string) (string, bool, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false, err
	}
	for d := dir; ; {
		p := filepath.Join(d, "package.json")
		data, err := os.ReadFile(p)
		if err == nil {
			var pkg struct {
				Scripts map[string]any `json:"scripts"`
			}
			if err := json.Unmarshal(data, &pkg); err != nil {
				return "", false, fmt.Errorf("%s: not JSON: %v", p, err)
			}
			s, ok := pkg.Scripts[name].(string)
			return s, ok, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", false, err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", false, nil
		}
		d = parent
	}
}

// splitScript splits a package.json script into words as sh would, for a
// simple command. simple is false when the script has anything of a shell
// beyond words and quotes: operators (&& || ; | &), redirections,
// subshells, command substitution, a newline. words are then split at
// those operators, to name the server in the message.
func splitScript(s string) (words []string, simple bool) {
	simple = true
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return words, false
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				} else if s[i] == '`' || s[i] == '$' && i+1 < len(s) && s[i+1] == '(' {
					simple = false
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return words, false
			}
		case c == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		case strings.IndexByte("&|;<>()`\n\r", c) >= 0, c == '$' && i+1 < len(s) && s[i+1] == '(':
			flush()
			simple = false
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	flush()
	return words, simple
}
