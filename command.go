package localdev

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/localdev/localdev/internal/adminclient"
	"github.com/localdev/localdev/internal/ports"
	"github.com/localdev/localdev/internal/routes"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "localdev",
		Usage: "<list|add|rm|port|run|hosts|doctor|discover> [args…]",
		Short: "Manages the live routes of a running Caddy's localdev module",
		Long: `
Manages localdev's live routes through the admin API of a running Caddy,
as 'caddy reload' does: no reload, no dropped connections.

  caddy localdev list                      routes: URL, target, source, up/down
  caddy localdev add <name> <target>       add or replace an API route
  caddy localdev rm <name>                 remove an API route
  caddy localdev port <name>               the name's stable free port
  caddy localdev run [name] -- <command>   run a dev server on its own name
                                           (inferred from the project if not given)
  caddy localdev hosts sync|clean|show     the route names in /etc/hosts
  caddy localdev doctor                    check names, trust and apps; say how to fix them
  caddy localdev discover [--json] [--all] what is listening, who started it

A short name goes under the domain of the running Caddy's localdev
handlers ("localhost" unless configured): "app" is https://app.localhost. The admin address is --address if given, else the
admin address in --config (with --adapter), else localhost:2019.
`,
		CobraFunc: setupLocaldevCommand,
	})
}

// setupLocaldevCommand adds the subcommands to the `caddy localdev` command.
func setupLocaldevCommand(cmd *cobra.Command) {
	// Runnable, so that cobra checks the arguments: an unknown subcommand
	// is an error rather than the help text with status 0.
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return cliUsageError(c, fmt.Errorf("localdev: unknown subcommand %q; see: caddy localdev --help", args[0]))
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	// Flag errors are one plain line too, as every other error.
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		path := c.CommandPath() // caddy localdev hosts sync
		return cliUsageError(c, fmt.Errorf("%s: %v; see: %s --help", strings.TrimPrefix(path, "caddy "), err, path))
	})

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
			return 1, fmt.Errorf("localdev: add needs a name and a target, as in: caddy localdev add app 3000 (got %q)", args)
		}
		addr, err := cliAdminAddress(fl)
		if err != nil {
			return 1, err
		}
		r, err := addRoute(addr, args[0], args[1], true)
		if err != nil {
			return 1, err
		}
		if r.URL == "" {
			fmt.Println(terminalSafe(r.Name)) // a wildcard has no one URL
		} else {
			fmt.Println(terminalSafe(r.URL))
		}
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
			return 1, fmt.Errorf("localdev: rm needs exactly one name, as in: caddy localdev rm app (got %q)", args)
		}
		addr, err := cliAdminAddress(fl)
		if err != nil {
			return 1, err
		}
		return cliExit(removeRoute(addr, args[0], ""))
	})

	port := &cobra.Command{
		Use:   "port <name> [--domain <domain>]",
		Short: "Prints the name's stable port, or the next free one",
		Long: `
Prints the port that 'caddy localdev run <name>' would give the app: the
first choice is 49152 + FNV-1a-32(full lowercase name) % 16384, the same on
every machine (app.localhost: 58583); if a listener on 127.0.0.1 or ::1
holds it, the next free port, wrapping from 65535 to 49152. The full name
is NAME under --domain, by default the running Caddy's localdev domain, or
localhost when no Caddy answers.
`,
	}
	port.Flags().String("domain", "", "Domain to hash the name under (default: the running Caddy's, else localhost)")
	port.RunE = cliRunE(cmdPort)

	run := newRunCommand()

	discover := discoverCommand()
	for _, sub := range []*cobra.Command{list, add, rm, port, run, discover} {
		sub.Flags().String("address", "", "Address of Caddy's admin API, if not the one in --config or the default")
		sub.Flags().StringP("config", "c", "", "Configuration file to read the admin address from, if --address is not used")
		sub.Flags().StringP("adapter", "a", "", "Name of the config adapter for --config")
	}
	cmd.AddCommand(list, add, rm, port, run, discover, hostsCommand())
	cmd.AddCommand(doctorCommand())
}

// cliRunE adapts a command function that needs its positional arguments to
// caddycmd's exit code handling, printing an error as one plain line.
func cliRunE(f func(caddycmd.Flags, []string) (int, error)) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		code, err := f(caddycmd.Flags{FlagSet: c.Flags()}, args)
		return cliResult(c, args, code, err)
	}
}

// cliExit turns an error into caddycmd's (exit code, error) pair.
func cliExit(err error) (int, error) {
	if err != nil {
		return 1, err
	}
	return 0, nil
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
		if list == nil {
			list = []routes.Info{}
		}
		return writeTerminalJSON(w, list)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", terminalSafe(u), terminalSafe(r.Target), terminalSafe(r.Source), status)
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
