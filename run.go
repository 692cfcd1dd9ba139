package localdev

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/localdev/localdev/internal/adminclient"
	"github.com/localdev/localdev/internal/exposure"
	"github.com/localdev/localdev/internal/framework"
	"github.com/localdev/localdev/internal/ports"
	"github.com/localdev/localdev/internal/project"
	"github.com/localdev/localdev/internal/routes"
)

// runUsage is the synopsis of `caddy localdev run`.
const runUsage = "caddy localdev run [NAME] [--port N] [--replace] [--no-flags] -- COMMAND [ARGS…]"

// killGrace is how long what is left of a command's process group has
// between SIGTERM and SIGKILL, and a command that a stopping signal was
// passed on to has before SIGKILL.
const killGrace = 5 * time.Second

// adminTimeout bounds each request run makes to the admin API, so that a
// hung Caddy cannot hang run.
const adminTimeout = 10 * time.Second

// newRunCommand returns the `caddy localdev run` subcommand.
func newRunCommand() *cobra.Command {
	run := &cobra.Command{
		Use:   "run [NAME] [--port N] [--replace] [--no-flags] -- COMMAND [ARGS…]",
		Short: "Runs a dev server on its own name",
		Long: `
Runs COMMAND with its own name: https://NAME.localhost routes to it while
it runs.

NAME is optional. Without it, run infers one and says where from: the
package.json "name" (its @scope/ dropped), the go.mod module path's last
element, the Cargo.toml [package] name, the pyproject.toml [project] name,
looked for in the current folder and its parents up to the git top level;
else the git top-level folder's name; else the current folder's name. In a
linked git worktree the branch is put in front (fix-ui.web.localhost), with
a NAME too. A short name goes under the running Caddy's localdev domain; if
it serves several, NAME must be the full name.

The command gets PORT (the name's stable port, see 'caddy localdev port',
or --port), HOST=127.0.0.1, LOCALDEV_NAME (the full name), LOCALDEV_URL and,
unless set, NODE_EXTRA_CA_CERTS (Caddy's local root certificate, so that
Node trusts https://*.localhost). Dev servers that ignore PORT or HOST get
the flags they need, never one already given, and run says which: vite (and
vite dev|serve, astro dev, react-router dev) --port P --host 127.0.0.1
--strictPort; ng serve and webpack serve / webpack-dev-server --port P
--host 127.0.0.1; next dev --hostname 127.0.0.1. This works directly, via
npx or bunx, and through 'npm|pnpm|yarn|bun run SCRIPT', 'start' and 'dev'
by reading the package.json script. --no-flags adds none. A command that
sets its own port (vite --port 5174) is routed to that port.

The command runs in its own process group, with the terminal. Signals run
gets (SIGINT, SIGTERM, SIGHUP, SIGQUIT) go to the whole group; after
SIGINT, SIGTERM or SIGHUP the command has 5 seconds to end before it is
killed. When the command ends, what is left of its group gets SIGTERM, then
SIGKILL after 5 seconds: nothing it started keeps the port. Its route is
removed, only while it is still this run's, and run exits with the
command's status (128 + the signal's number if a signal ended it; 127 if
it does not exist).

If the name already has an API route (another run, say), run fails unless
--replace is given. Names from the configuration or a dir folder are never
replaced.
`,
	}
	run.Flags().Int("port", 0, "Port for the command (default: the name's stable free port)")
	run.Flags().Bool("replace", false, "Take over the name if another run or add holds it")
	run.Flags().Bool("no-flags", false, "Add no --port/--host flags for known dev servers")
	run.RunE = func(c *cobra.Command, args []string) error {
		code, err := cmdRun(caddycmd.Flags{FlagSet: c.Flags()}, args, c.ArgsLenAtDash())
		return cliResult(c, args, code, err)
	}
	return run
}

// runOptions is what `caddy localdev run` was asked to do.
type runOptions struct {
	Name    string    // NAME as given; "" to infer it
	Port    int       // --port; 0 for the stable port
	Replace bool      // --replace
	NoFlags bool      // --no-flags
	Argv    []string  // the command
	Dir     string    // the working folder; "" for the current one
	Out     io.Writer // where run's own lines go; nil for stderr
}

// cmdRun is `caddy localdev run`; dash is the number of arguments before
// "--" (cobra's ArgsLenAtDash), -1 without one.
func cmdRun(fl caddycmd.Flags, args []string, dash int) (int, error) {
	name, argv, err := parseRunArgs(args, dash)
	if err != nil {
		return 1, err
	}
	port := fl.Int("port")
	if fl.Changed("port") && port == 0 || port < 0 || port > 65535 {
		return 1, fmt.Errorf("localdev: --port %d is not a port (1–65535)", port)
	}
	addr, err := cliAdminAddress(fl)
	if err != nil {
		return 1, err
	}
	return runCommand(context.Background(), addr, runOptions{
		Name: name, Port: port, Replace: fl.Bool("replace"), NoFlags: fl.Bool("no-flags"), Argv: argv,
	})
}

// parseRunArgs splits run's arguments into the name ("" to infer it) and
// the command.
func parseRunArgs(args []string, dash int) (name string, argv []string, err error) {
	switch {
	case dash < 0 && len(args) == 0:
		return "", nil, fmt.Errorf("localdev: run needs a command: %s", runUsage)
	case dash < 0:
		return "", nil, fmt.Errorf("localdev: put -- before the command, so that its flags stay its own: %s", runUsage)
	case dash > 1:
		return "", nil, fmt.Errorf("localdev: run takes at most one name before --, got %q: %s", args[:dash], runUsage)
	case len(args) == dash:
		return "", nil, fmt.Errorf("localdev: run needs a command after --: %s", runUsage)
	case dash == 0:
		return "", args, nil
	}
	return args[0], args[dash:], nil
}

// runSignals are caught by `caddy localdev run`, from before it adds the
// route until it has removed it, and passed on to the command's process
// group. SIGHUP is included so that closing the terminal also removes the
// route, SIGQUIT so that Ctrl-\ does too.
var runSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// stopsCommand reports whether sig, passed on to the command, must end it:
// if it has not ended killGrace later, it is killed.
func stopsCommand(sig os.Signal) bool {
	return sig == os.Interrupt || sig == syscall.SIGTERM || sig == syscall.SIGHUP
}

// signalStatus is the status a shell reports for a process that sig ended.
func signalStatus(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 128 + int(syscall.SIGINT)
}

// runName is the name run uses and how it came to it.
type runName struct {
	full   string // app.localhost
	inform []string
}

// resolveRunName turns NAME (or, without one, the project's name in dir)
// into the full route name under the running Caddy's domain, with a
// linked worktree's branch in front.
func resolveRunName(ctx context.Context, admin *adminclient.Client, name, dir string) (runName, error) {
	var n runName
	if name == "" {
		p, err := project.Infer(dir)
		if err != nil {
			return n, fmt.Errorf("localdev: cannot infer a name (give one: %s): %v", runUsage, err)
		}
		name = p.Label
		n.inform = append(n.inform, fmt.Sprintf("name %s, from the %s in %s", p.Label, p.Source, p.Dir))
	}
	domain, err := nameDomain(ctx, admin, name, "", false)
	if err != nil {
		return n, err
	}
	full, err := routes.NormalizeName(name, domain)
	if err != nil {
		return n, fmt.Errorf("localdev: %v", err)
	}
	prefix, ok, err := project.Worktree(dir)
	if err != nil {
		return n, fmt.Errorf("localdev: reading the git worktree of %s: %v", dir, err)
	}
	if ok {
		if rest, wild := strings.CutPrefix(full, "*."); wild {
			full = "*." + prefix + "." + rest
		} else {
			full = prefix + "." + full
		}
		if full, err = routes.NormalizeName(full, domain); err != nil {
			return n, fmt.Errorf("localdev: with the worktree's %s in front: %v", prefix, err)
		}
		n.inform = append(n.inform, fmt.Sprintf("in a git worktree of %s: %s", prefix, full))
	}
	n.full = full
	return n, nil
}

// nameDomain returns the domain a name goes under: explicit if not
// empty; else the running Caddy's one localdev domain, or with several
// the one the name is already in. When the admin API does not answer, it
// is localhost if orLocalhost, else an error.
func nameDomain(ctx context.Context, admin *adminclient.Client, name, explicit string, orLocalhost bool) (string, error) {
	if explicit != "" {
		d, err := routes.NormalizeDomain(explicit)
		if err != nil {
			return "", fmt.Errorf("localdev: --domain: %v", err)
		}
		return d, nil
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	domains, err := admin.Domains(ctx)
	if _, unreachable := errors.AsType[*adminclient.UnreachableError](err); unreachable && orLocalhost {
		return routes.DefaultDomain, nil
	}
	if err != nil {
		return "", cliError(err)
	}
	switch len(domains) {
	case 0:
		return routes.DefaultDomain, nil
	case 1:
		return domains[0], nil
	}
	lower := strings.ToLower(strings.TrimSuffix(name, "."))
	for _, d := range domains {
		if routes.InDomain(strings.TrimPrefix(lower, "*."), d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("localdev: Caddy serves several localdev domains (%s): give the full name, as in %s.%s",
		strings.Join(domains, ", "), strings.TrimPrefix(lower, "*."), domains[0])
}

// cmdPort is `caddy localdev port NAME [--domain D]`: the stable free port
// of NAME under D, by default the running Caddy's single domain, or
// localhost when no Caddy answers.
func cmdPort(fl caddycmd.Flags, args []string) (int, error) {
	if len(args) != 1 {
		return 1, fmt.Errorf("localdev: port needs exactly one name, as in: caddy localdev port app (got %d arguments)", len(args))
	}
	explicit := fl.String("domain")
	var admin *adminclient.Client
	if explicit == "" {
		addr, err := cliAdminAddress(fl)
		if err != nil {
			return 1, err
		}
		admin = adminclient.New(addr)
	}
	domain, err := nameDomain(context.Background(), admin, args[0], explicit, true)
	if err != nil {
		return 1, err
	}
	full, err := routes.NormalizeName(args[0], domain)
	if err != nil {
		return 1, fmt.Errorf("localdev: %v", err)
	}
	p, err := ports.Free(full)
	if err != nil {
		return 1, fmt.Errorf("localdev: %v", err)
	}
	fmt.Println(p)
	return 0, nil
}

// caRootPath is where Caddy keeps the root certificate of its local CA.
func caRootPath() string {
	return filepath.Join(caddy.AppDataDir(), "pki", "authorities", "local", "root.crt")
}

// runEnv is the command's environment: base with PORT, HOST,
// LOCALDEV_NAME, LOCALDEV_URL and, when the root certificate exists and
// base does not set it, NODE_EXTRA_CA_CERTS.
func runEnv(base []string, port int, full, url, caRoot string) []string {
	env := slices.Clone(base)
	env = append(env, "PORT="+strconv.Itoa(port), "HOST=127.0.0.1", "LOCALDEV_NAME="+full, "LOCALDEV_URL="+url)
	if _, set := os.LookupEnv("NODE_EXTRA_CA_CERTS"); !set && !envHas(base, "NODE_EXTRA_CA_CERTS") {
		if fi, err := os.Stat(caRoot); err == nil && fi.Mode().IsRegular() {
			env = append(env, "NODE_EXTRA_CA_CERTS="+caRoot)
		}
	}
	return env
}

func envHas(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// runCommand is `caddy localdev run` after argument parsing: it names the
// route, picks the port, adds the flags a known dev server needs, adds the
// route with a fresh owner token (replacing another API route only with
// Replace), runs the command in its own process group on this process's
// terminal, passes runSignals on to the group, and when the command ends
// stops what is left of the group and removes the route if this run still
// owns it. It returns the command's exit status (128 + signal number if a
// signal ended it). A failure before the command runs is an error with
// status 1 (127 if the command does not exist, 126 if it cannot start); a
// signal before the command runs removes the route and returns 128 + its
// number without starting it. Cancelling ctx sends the group SIGTERM, and
// SIGKILL 5 s later.
func runCommand(ctx context.Context, adminAddr string, o runOptions) (int, error) {
	out := o.Out
	if out == nil {
		out = os.Stderr
	}
	// A closed output pipe (`run … | head -1`) must not kill run, above
	// all between adding the route and removing it: with SIGPIPE caught
	// from before run's first line, a write to it fails instead, which
	// run's own lines ignore. It stays caught after run returns, so that
	// the error line Caddy's command wrapper writes cannot kill the
	// process either and the exit status stays run's. Caught, not
	// ignored, so that the command starts with SIGPIPE at its default.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	if len(o.Argv) == 0 {
		return 1, errors.New("localdev: run needs a command")
	}
	dir := o.Dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return 1, fmt.Errorf("localdev: %v", err)
		}
		dir = wd
	}
	if o.Port < 0 || o.Port > 65535 {
		return 1, fmt.Errorf("localdev: port %d is not a port (1–65535)", o.Port)
	}
	if err := exec.Command(o.Argv[0]).Err; err != nil {
		return 127, fmt.Errorf("localdev: cannot run %s: %v", o.Argv[0], err)
	}
	admin := adminclient.New(adminAddr)
	name, err := resolveRunName(ctx, admin, o.Name, dir)
	if err != nil {
		return 1, err
	}
	for _, line := range name.inform {
		fmt.Fprintln(out, "localdev:", terminalSafe(line))
	}
	full := name.full

	// The framework's own port flag decides the port; then --port; then
	// the stable one.
	plan, err := framework.Apply(o.Argv, dir, 0)
	if err != nil {
		return 1, fmt.Errorf("localdev: %v", err)
	}
	port := o.Port
	switch {
	case plan.Port != 0 && o.Port != 0 && plan.Port != o.Port:
		return 1, fmt.Errorf("localdev: --port %d and the command's own port %d differ: give one", o.Port, plan.Port)
	case plan.Port != 0:
		port = plan.Port
	case port == 0:
		if port, err = ports.Free(full); err != nil {
			return 1, fmt.Errorf("localdev: %v", err)
		}
	}
	argv := o.Argv
	if !o.NoFlags {
		if plan, err = framework.Apply(o.Argv, dir, port); err != nil {
			return 1, fmt.Errorf("localdev: %v", err)
		}
		argv = plan.Argv
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	target := strconv.Itoa(port)
	owner := rand.Text()

	// Catch the signals before the route exists, so that one arriving
	// from here on ends run through the removal below (the channel holds
	// it until runChild looks), and until the route is removed again.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, runSignals...)
	defer signal.Stop(sigs)
	var url string
	var addErr error
	first, quit := whileCatching(sigs, "add the route "+full+" and remove it again", func() {
		actx, cancel := context.WithTimeout(ctx, adminTimeout)
		defer cancel()
		var info routes.Info
		info, _, addErr = admin.PutRoute(actx, full, target, adminclient.PutOptions{Replace: o.Replace, Owner: owner})
		addErr = cliError(addErr)
		url = info.URL
	})
	if quit != nil {
		return signalStatus(quit), fmt.Errorf("localdev: %v while adding the route %s; if it was added, remove it with: caddy localdev rm %s", quit, full, full)
	}
	if err := addErr; err != nil {
		if adminStatus(err) == http.StatusConflict && !o.Replace {
			return 1, fmt.Errorf("%w; --replace takes over a name that another run or add holds (never a configured or folder route)", err)
		}
		return 1, err
	}
	if first != nil {
		select {
		case sigs <- first: // for runChild, which then does not start the command
		default: // sigs is full of signals, which will do as well
		}
	}
	fmt.Fprintf(out, "localdev: %s -> 127.0.0.1:%d (PORT=%d)\n", terminalSafe(url), port, port)
	switch {
	case o.NoFlags:
	case len(plan.Added) > 0:
		via := ""
		if plan.Script != "" {
			via = " in " + plan.Script
		}
		fmt.Fprintf(out, "localdev: added %s for %s%s (--no-flags adds none)\n", terminalSafe(strings.Join(plan.Added, " ")), plan.Framework, terminalSafe(via))
	case plan.Note != "":
		fmt.Fprintln(out, "localdev:", terminalSafe(plan.Note))
	}
	if plan.Port != 0 {
		fmt.Fprintf(out, "localdev: %s sets its own port %d: routing there\n", plan.Framework, plan.Port)
	}

	cmd.Env = runEnv(os.Environ(), port, full, url, caRootPath())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr

	watch, stopWatch := context.WithCancel(ctx)
	go warnIfExposed(watch, out, port, plan.Framework)
	code, runErr := runChild(ctx, cmd, sigs)
	stopWatch()

	// Remove our route, but only while it is still ours: another run with
	// --replace may have taken the name (409), or Caddy restarted (404).
	var rmErr error
	if _, quit := whileCatching(sigs, "remove the route "+full, func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), adminTimeout)
		defer cancel()
		rmErr = admin.DeleteRoute(actx, full, adminclient.DeleteConditions{Owner: owner})
	}); quit != nil {
		fmt.Fprintf(out, "localdev: %v: gave up removing the route %s; remove it with: caddy localdev rm %s\n", quit, full, full)
		return code, runErr
	}
	if err := rmErr; err != nil {
		switch adminStatus(err) {
		case http.StatusConflict, http.StatusNotFound, http.StatusPreconditionFailed:
		default:
			fmt.Fprintf(out, "localdev: could not remove the route %s: %s\n", full, terminalSafe(err.Error()))
		}
	}
	return code, runErr
}

// whileCatching runs f, a request to the admin API, and waits for it
// while run catches signals on sigs: run must not be deaf to signals
// while the admin API takes its time. The first signal keeps waiting (it
// returns it as first), since f may change the routes; a second one gives
// up on f and is returned as quit.
func whileCatching(sigs <-chan os.Signal, what string, f func()) (first, quit os.Signal) {
	done := make(chan struct{})
	go func() {
		f()
		close(done)
	}()
	for {
		select {
		case <-done:
			return first, nil
		case s := <-sigs:
			if first != nil {
				return first, s
			}
			first = s
			select {
			case <-done: // as usual: say nothing
				return first, nil
			case <-time.After(500 * time.Millisecond):
			}
			fmt.Fprintf(os.Stderr, "localdev: %v: waiting for Caddy's admin API to %s (signal again to quit now)\n", s, what)
		}
	}
}

// startChild starts cmd unless it cannot run or a signal is already
// waiting on sigs; then done is true with the status to return: 127 (not
// found) or 126 and the error, or 128 + the signal's number.
func startChild(cmd *exec.Cmd, sigs <-chan os.Signal) (code int, done bool, err error) {
	if cmd.Err != nil {
		return 127, true, fmt.Errorf("localdev: cannot run %s: %v", cmd.Path, cmd.Err)
	}
	select {
	case s := <-sigs:
		fmt.Fprintf(os.Stderr, "localdev: %v before %s started; not starting it\n", s, cmd.Path)
		return signalStatus(s), true, nil
	default:
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return 127, true, fmt.Errorf("localdev: cannot run %s: %v", cmd.Path, err)
		}
		return 126, true, fmt.Errorf("localdev: cannot run %s: %v", cmd.Path, err)
	}
	return 0, false, nil
}

// exitCode is the status a shell reports for an ended process: its exit
// code, or 128 + the signal's number if a signal ended it.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if code := ps.ExitCode(); code >= 0 {
		return code
	}
	return 1
}

// warnIfExposed waits until the app answers on loopback port, then, if
// the port is also open on a non-loopback address of this machine, prints
// one warning with the address and the flag that binds it to loopback.
func warnIfExposed(ctx context.Context, out io.Writer, port int, server string) {
	if !waitForPort(ctx, port) {
		return
	}
	addrs, err := exposure.Check(ctx, port)
	if err != nil || len(addrs) == 0 {
		return
	}
	list := make([]string, len(addrs))
	for i, a := range addrs {
		list[i] = a.String()
	}
	fix := "make it listen on 127.0.0.1 ($HOST) only"
	switch server {
	case "next dev":
		fix = "start it with --hostname 127.0.0.1"
	case "":
	default:
		fix = "start it with --host 127.0.0.1, or drop --no-flags"
	}
	fmt.Fprintf(out, "localdev: warning: the app's port %d is also open on %s: anyone on your network can reach it directly, without Caddy; %s\n",
		port, strings.Join(list, ", "), fix)
}

// waitForPort polls until something accepts connections on loopback port
// (127.0.0.1 or ::1), or ctx ends.
func waitForPort(ctx context.Context, port int) bool {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	p := strconv.Itoa(port)
	for {
		for _, host := range []string{"127.0.0.1", "::1"} {
			d := net.Dialer{Timeout: 200 * time.Millisecond}
			if c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, p)); err == nil {
				_ = c.Close()
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}
