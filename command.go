package localdev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/localdev/localdev/internal/adminclient"
	"github.com/localdev/localdev/internal/ports"
	"github.com/localdev/localdev/internal/routes"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "localdev",
		Usage: "<list|add|rm|port|run|hosts> [args…]",
		Short: "Manages the live routes of a running Caddy's localdev module",
		Long: `
Manages localdev's live routes through the admin API of a running Caddy,
as 'caddy reload' does: no reload, no dropped connections.

  caddy localdev list                      routes: URL, target, source, up/down
  caddy localdev add <name> <target>       add or replace an API route
  caddy localdev rm <name>                 remove an API route
  caddy localdev port <name>               the name's stable free port
  caddy localdev run <name> -- <command>   run a dev server on its own name
  caddy localdev hosts sync|clean|show     the route names in /etc/hosts
  caddy localdev doctor                    check names, trust and apps; say how to fix them

A name gets ".localhost" added unless it already ends in it: "app" is
https://app.localhost. The admin address is --address if given, else the
admin address in --config (with --adapter), else localhost:2019.
`,
		CobraFunc: setupLocaldevCommand,
	})
}

// setupLocaldevCommand adds the subcommands to the `caddy localdev` command.
func setupLocaldevCommand(cmd *cobra.Command) {
	// Runnable, so that cobra checks the arguments: an unknown subcommand
	// is an error rather than the help text with status 0.
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }

	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "Lists the routes: URL, target, source, up/down",
		Long: `
Lists every route of the running Caddy, whether from the configuration, a
dir folder or the admin API, with its URL, target, source and whether its
app answers. --json prints the admin API's array as it is.
`,
	}
	list.Flags().Bool("json", false, "Print the raw JSON array")
	list.RunE = cliRunE(func(fl caddycmd.Flags, args []string) (int, error) {
		if len(args) != 0 {
			return 1, fmt.Errorf("localdev: list takes no arguments, got %q", args)
		}
		addr, err := cliAdminAddress(fl)
		if err != nil {
			return 1, err
		}
		return cliExit(listRoutes(addr, os.Stdout, fl.Bool("json")))
	})

	add := &cobra.Command{
		Use:   "add <name> <target>",
		Short: "Adds or replaces an API route",
		Long: `
Adds the route <name> -> <target> to the running Caddy, or replaces the API
route of that name, and prints its URL. A target is a port (62893), a
loopback address with a port (127.0.0.1:3000, [::1]:4000, localhost:5173),
unix//path/app.sock, or one of these after https:// for an app that speaks
TLS itself. The route lasts until it is removed or Caddy exits.
`,
	}
	add.RunE = cliRunE(func(fl caddycmd.Flags, args []string) (int, error) {
		if len(args) != 2 {
			return 1, fmt.Errorf("localdev: add needs a name and a target, as in: caddy localdev add app 3000 (got %d arguments)", len(args))
		}
		addr, err := cliAdminAddress(fl)
		if err != nil {
			return 1, err
		}
		r, err := addRoute(addr, args[0], args[1], true)
		if err != nil {
			return 1, err
		}
		fmt.Println(r.URL)
		return 0, nil
	})

	rm := &cobra.Command{
		Use:   "rm <name>",
		Short: "Removes an API route",
		Long: `
Removes the API route <name> from the running Caddy. Routes from the
configuration cannot be removed this way (edit it and reload), nor routes
from a dir folder (delete the file).
`,
	}
	rm.RunE = cliRunE(func(fl caddycmd.Flags, args []string) (int, error) {
		if len(args) != 1 {
			return 1, fmt.Errorf("localdev: rm needs exactly one name, as in: caddy localdev rm app (got %d arguments)", len(args))
		}
		addr, err := cliAdminAddress(fl)
		if err != nil {
			return 1, err
		}
		return cliExit(removeRoute(addr, args[0], ""))
	})

	port := &cobra.Command{
		Use:   "port <name>",
		Short: "Prints the name's stable port, or the next free one",
		Long: `
Prints the port that 'caddy localdev run <name>' would give the app: the
first choice is 49152 + FNV-1a-32(full lowercase name) % 16384, the same on
every machine (app.localhost: 58583); if a listener on 127.0.0.1 or ::1
holds it, the next free port, wrapping from 65535 to 49152. Needs no Caddy.
`,
	}
	port.RunE = cliRunE(func(_ caddycmd.Flags, args []string) (int, error) {
		if len(args) != 1 {
			return 1, fmt.Errorf("localdev: port needs exactly one name, as in: caddy localdev port app (got %d arguments)", len(args))
		}
		p, err := freePortFor(args[0])
		if err != nil {
			return 1, err
		}
		fmt.Println(p)
		return 0, nil
	})

	run := &cobra.Command{
		Use:   "run <name> [--port <n>] [--replace] -- <command> [args…]",
		Short: "Runs a dev server on its own name",
		Long: `
Runs <command> with PORT set to the name's stable port (see 'caddy localdev
port') or --port, and HOST=127.0.0.1, and routes https://<name>.localhost to
it while it runs. The command gets the terminal. SIGTERM is passed on to
it; so are SIGINT, SIGQUIT and SIGHUP, except while this command is in the
terminal's foreground, where the terminal has sent them (Ctrl-C, Ctrl-\) to
the command itself. When it ends, however it ends, its route is removed
(only if it still points at this port) and this command exits with the
command's exit status (128 + the signal's number if a signal ended it). A
signal that comes before the command starts removes the route and exits
with 128 + its number without starting the command.

If the name already has an API route (another 'run', say), this fails
unless --replace is given. Names from the configuration or a dir folder
are never replaced.
`,
	}
	run.Flags().Int("port", 0, "Port for the command (default: the name's stable free port)")
	run.Flags().Bool("replace", false, "Take over the name if another run or add holds it")
	run.RunE = func(c *cobra.Command, args []string) error {
		code, err := cmdRun(caddycmd.Flags{FlagSet: c.Flags()}, args, c.ArgsLenAtDash())
		return runResult(c, args, code, err)
	}

	for _, sub := range []*cobra.Command{list, add, rm, run} {
		sub.Flags().String("address", "", "Address of Caddy's admin API, if not the one in --config or the default")
		sub.Flags().StringP("config", "c", "", "Configuration file to read the admin address from, if --address is not used")
		sub.Flags().StringP("adapter", "a", "", "Name of the config adapter for --config")
	}
	cmd.AddCommand(list, add, rm, port, run, hostsCommand())
	cmd.AddCommand(doctorCommand())
}

// cliRunE adapts a command function that needs its positional arguments to
// caddycmd's exit code and error handling.
func cliRunE(f func(caddycmd.Flags, []string) (int, error)) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		return caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
			return f(fl, args)
		})(c, args)
	}
}

// cliExit turns an error into caddycmd's (exit code, error) pair.
func cliExit(err error) (int, error) {
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// errChildStatus1 makes `caddy localdev run` exit with status 1 when the
// child did: caddycmd's wrapper turns status 1 without an error into 0.
var errChildStatus1 = errors.New("the command exited with status 1")

// runResult hands run's outcome to caddycmd.Main, which calls os.Exit with
// the status carried by the returned error. A failure of run itself is
// logged as caddycmd logs errors; the child's own exit status is passed on
// silently, since the child has spoken for itself.
func runResult(c *cobra.Command, args []string, code int, err error) error {
	wrap := caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) { return code, err })
	if err != nil || code == 0 {
		return wrap(c, args)
	}
	c.SilenceErrors = true
	if code == 1 {
		return errChildStatus1
	}
	return wrap(c, args) // status > 1: caddycmd's exit error, Main exits with it
}

// cliAdminAddress finds the admin API address as `caddy stop` does.
func cliAdminAddress(fl caddycmd.Flags) (string, error) {
	addr, err := caddycmd.DetermineAdminAPIAddress(fl.String("address"), nil, fl.String("config"), fl.String("adapter"))
	if err != nil {
		return "", fmt.Errorf("localdev: cannot determine Caddy's admin API address: %v", err)
	}
	return addr, nil
}

// fullRouteName applies the route rule: ".localhost" is added unless the
// name already is or ends in it; lowercase, IDN as punycode.
func fullRouteName(name string) (string, error) {
	full, err := routes.NormalizeName(name, routes.DefaultDomain)
	if err != nil {
		return "", fmt.Errorf("localdev: %v", err)
	}
	return full, nil
}

// freePortFor returns ports.Free of the full route name.
func freePortFor(name string) (int, error) {
	full, err := fullRouteName(name)
	if err != nil {
		return 0, err
	}
	p, err := ports.Free(full)
	if err != nil {
		return 0, fmt.Errorf("localdev: %v", err)
	}
	return p, nil
}

// adminStatus returns the HTTP status of an admin API error, or 0.
func adminStatus(err error) int { return adminclient.StatusOf(err) }

// cliError prefixes an admin client's error for the terminal.
func cliError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("localdev: %w", err)
}

// listRoutes writes the routes as a table, or raw JSON with raw.
func listRoutes(addr string, w io.Writer, raw bool) error {
	list, err := adminclient.New(addr).Routes(context.Background())
	if err != nil {
		return cliError(err)
	}
	if raw {
		data, err := json.Marshal(list)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", data)
		return err
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no routes (add one with: caddy localdev add <name> <port>)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "URL\tTARGET\tSOURCE\tSTATUS")
	for _, r := range list {
		status := "down"
		if r.Up {
			status = "up"
		}
		u := r.URL
		if u == "" {
			u = r.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u, r.Target, r.Source, status)
	}
	return tw.Flush()
}

// addRoute puts the API route name -> target; the running Caddy places a
// short name under its domain. Without replace, a name that has a route
// already is refused (409).
func addRoute(addr, name, target string, replace bool) (routes.Info, error) {
	info, _, err := adminclient.New(addr).PutRoute(context.Background(), name, target, adminclient.PutOptions{Replace: replace})
	return info, cliError(err)
}

// removeRoute deletes the API route name; with ifTarget, only while it
// still points there.
func removeRoute(addr, name, ifTarget string) error {
	err := adminclient.New(addr).DeleteRoute(context.Background(), name, adminclient.DeleteConditions{Target: ifTarget})
	return cliError(err)
}

// cmdRun is `caddy localdev run`; dash is the number of arguments before
// "--" (cobra's ArgsLenAtDash), -1 without one.
func cmdRun(fl caddycmd.Flags, args []string, dash int) (int, error) {
	name, argv, err := parseRunArgs(args, dash)
	if err != nil {
		return 1, err
	}
	port := fl.Int("port")
	if port < 0 || port > 65535 {
		return 1, fmt.Errorf("localdev: --port %d is not a port (1–65535)", port)
	}
	addr, err := cliAdminAddress(fl)
	if err != nil {
		return 1, err
	}
	return runCommand(context.Background(), addr, name, port, fl.Bool("replace"), argv)
}

// parseRunArgs splits run's arguments into the name and the command.
func parseRunArgs(args []string, dash int) (name string, argv []string, err error) {
	const usage = "caddy localdev run <name> [--port <n>] [--replace] -- <command> [args…]"
	switch {
	case dash < 0 && len(args) == 0:
		return "", nil, fmt.Errorf("localdev: run needs a name and a command: %s", usage)
	case dash < 0:
		return "", nil, fmt.Errorf("localdev: put -- before the command, so that its flags stay its own: %s", usage)
	case dash == 0:
		return "", nil, fmt.Errorf("localdev: run needs a name before --: %s", usage)
	case dash > 1:
		return "", nil, fmt.Errorf("localdev: run takes one name before --, got %q: %s", args[:dash], usage)
	case len(args) == dash:
		return "", nil, fmt.Errorf("localdev: run needs a command after --: %s", usage)
	}
	return args[0], args[dash:], nil
}

// runSignals are caught by `caddy localdev run`, from before it adds the
// route until it has removed it, and passed on to the child as
// forwardSignal decides. SIGHUP is included so that closing the terminal
// also removes the route, SIGQUIT so that Ctrl-\ does too.
var runSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// forwardSignal reports whether run passes sig on to its child. When run's
// process group is the terminal's foreground group (foreground), the child,
// which shares that group, got the terminal's SIGINT, SIGQUIT or SIGHUP
// just as run did: sending it again would make a second Ctrl-C, which
// foreman, overmind and the like take as "kill now". SIGTERM comes from
// kill(1) to run's pid alone, and is always passed on; so is everything
// when run is not in the foreground (no terminal, CI, kill -INT <pid>).
func forwardSignal(sig os.Signal, foreground bool) bool {
	if !foreground {
		return true
	}
	switch sig {
	case os.Interrupt, syscall.SIGQUIT, syscall.SIGHUP:
		return false
	}
	return true
}

// signalStatus is the status a shell reports for a process that sig ended.
func signalStatus(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 128 + int(syscall.SIGINT)
}

// runRouteAdded, if not nil, is called by runCommand between adding the
// route and starting the child. For tests.
var runRouteAdded func()

// runCommand is `caddy localdev run` after argument parsing: it picks the
// port (ports.Free of the full name unless port is not 0), adds the route
// (replacing another API route only with replace), runs argv with PORT and
// HOST=127.0.0.1 on this process's terminal, passes runSignals on to it as
// forwardSignal decides, and when it ends removes the route if it still
// points at port. It returns the child's exit status (128 + signal number
// if a signal ended it). A failure before the child runs is an error with
// status 1 (127 if the command does not exist, 126 if it cannot start); a
// signal before the child runs removes the route and returns 128 + its
// number without starting the child.
// Cancelling ctx sends the child SIGTERM, and SIGKILL 10s later.
func runCommand(ctx context.Context, adminAddr, name string, port int, replace bool, argv []string) (int, error) {
	full, err := fullRouteName(name)
	if err != nil {
		return 1, err
	}
	if len(argv) == 0 {
		return 1, errors.New("localdev: run needs a command")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if cmd.Err != nil {
		return 127, fmt.Errorf("localdev: cannot run %s: %v", argv[0], cmd.Err)
	}
	if port == 0 {
		if port, err = ports.Free(full); err != nil {
			return 1, fmt.Errorf("localdev: %v", err)
		}
	} else if port < 1 || port > 65535 {
		return 1, fmt.Errorf("localdev: port %d is not a port (1–65535)", port)
	}
	target := strconv.Itoa(port)

	// Catch the signals before the route exists, so that one arriving
	// from here on ends run through the removal below (the channel holds
	// it until runChild looks), and until the route is removed again.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, runSignals...)
	defer signal.Stop(sigs)

	var route routes.Info
	var addErr error
	first, quit := whileCatching(sigs, "add the route "+full+" and remove it again", func() {
		route, addErr = addRoute(adminAddr, full, target, replace)
	})
	if quit != nil {
		return signalStatus(quit), fmt.Errorf("localdev: %v while adding the route %s; if it was added, remove it with: caddy localdev rm %s", quit, full, full)
	}
	if err := addErr; err != nil {
		if adminStatus(err) == http.StatusConflict && !replace {
			return 1, fmt.Errorf("%w; --replace takes over a name that another run or add holds", err)
		}
		return 1, err
	}
	if first != nil {
		select {
		case sigs <- first: // for runChild, which then does not start the child
		default: // sigs is full of signals, which will do as well
		}
	}
	fmt.Fprintf(os.Stderr, "localdev: %s -> 127.0.0.1:%d (PORT=%d)\n", route.URL, port, port)

	cmd.Env = append(os.Environ(), "PORT="+target, "HOST=127.0.0.1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr

	if runRouteAdded != nil {
		runRouteAdded()
	}
	code, runErr := runChild(ctx, cmd, sigs, stdinForeground)

	// Remove our route, but only if it is still ours: another run with
	// --replace may have taken the name (409), or Caddy restarted (404).
	var rmErr error
	if _, quit := whileCatching(sigs, "remove the route "+full, func() {
		rmErr = removeRoute(adminAddr, full, target)
	}); quit != nil {
		fmt.Fprintf(os.Stderr, "localdev: %v: gave up removing the route %s; remove it with: caddy localdev rm %s\n", quit, full, full)
		return code, runErr
	}
	if err := rmErr; err != nil {
		switch adminStatus(err) {
		case http.StatusConflict, http.StatusNotFound:
		default:
			fmt.Fprintf(os.Stderr, "localdev: could not remove the route %s: %v\n", full, err)
		}
	}
	return code, runErr
}

// whileCatching runs f, a request to the admin API, and waits for it
// while run catches signals on sigs: the admin API has no timeout, and run
// must not be deaf to signals. The first signal keeps waiting (it returns
// it as first), since f may change the routes; a second one gives up on f
// and is returned as quit.
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

// runChild starts cmd, sends it the signals that arrive on sigs, and waits
// for it to end. A signal is passed on if forwardSignal(sig, foreground())
// says so, foreground being called as each signal arrives; a nil
// foreground passes every signal on. It returns the child's exit status as
// a shell reports it (see exitCode). If a signal is already waiting on
// sigs, it does not start cmd and returns 128 + the signal's number. If
// cmd cannot start, it returns 127 (not found) or 126 and the error.
// Cancelling ctx sends the child SIGTERM, then SIGKILL after 10 seconds.
func runChild(ctx context.Context, cmd *exec.Cmd, sigs <-chan os.Signal, foreground func() bool) (int, error) {
	if cmd.Err != nil {
		return 127, fmt.Errorf("localdev: cannot run %s: %v", cmd.Path, cmd.Err)
	}
	select {
	case s := <-sigs:
		fmt.Fprintf(os.Stderr, "localdev: %v before %s started; not starting it\n", s, cmd.Path)
		return signalStatus(s), nil
	default:
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return 127, fmt.Errorf("localdev: cannot run %s: %v", cmd.Path, err)
		}
		return 126, fmt.Errorf("localdev: cannot run %s: %v", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	cancelled := ctx.Done()
	var kill <-chan time.Time
	for {
		select {
		case s := <-sigs:
			if foreground == nil || forwardSignal(s, foreground()) {
				_ = cmd.Process.Signal(s)
			}
		case <-cancelled:
			cancelled = nil
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				_ = cmd.Process.Kill()
			}
			kill = time.After(10 * time.Second)
		case <-kill:
			_ = cmd.Process.Kill()
		case err := <-done:
			if cmd.ProcessState != nil {
				return exitCode(cmd.ProcessState), nil
			}
			return 1, fmt.Errorf("localdev: waiting for %s: %v", cmd.Path, err)
		}
	}
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
