package localdev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/fsnotify/fsnotify"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/adminclient"
	"github.com/localdev/localdev/internal/hostsfile"
	"github.com/localdev/localdev/internal/routes"
)

// The hosts file: most programs (Python, Node, Go, wget, Java, Safari…)
// resolve names through the system resolver, which does not know
// *.localhost on macOS, nor on Linux without nss-myhostname. A managed
// block in the hosts file lists the exact names; `caddy localdev hosts`
// writes it once, the `hosts` option keeps it up to date.

// defaultHostsFile is the system hosts file of this OS.
func defaultHostsFile() string {
	if runtime.GOOS == "windows" {
		root := os.Getenv("SystemRoot")
		if root == "" {
			root = `C:\Windows`
		}
		return filepath.Join(root, "System32", "drivers", "etc", "hosts")
	}
	return "/etc/hosts"
}

// flushResolverCache makes macOS forget names it looked up before the
// hosts file changed; elsewhere the hosts file is read on each lookup
// (nscd, where installed, watches it).
func flushResolverCache() error {
	if runtime.GOOS != "darwin" {
		return nil
	}
	var errs []error
	for _, argv := range [][]string{{"dscacheutil", "-flushcache"}, {"killall", "-HUP", "mDNSResponder"}} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}

// hostsNames returns what the block lists: every route name (wildcards
// become comments) and each domain's index host except "localhost",
// which every resolver knows.
func hostsNames(routeNames, domains []string) []string {
	names := make([]string, 0, len(routeNames)+len(domains))
	names = append(names, routeNames...)
	for _, d := range domains {
		if d != routes.DefaultDomain {
			names = append(names, d)
		}
	}
	return names
}

// hostsCommandFor is the command a user runs to do by hand what failed.
func hostsCommandFor(verb, path string) string {
	cmd := "sudo caddy localdev hosts " + verb
	if runtime.GOOS == "windows" {
		cmd = "caddy localdev hosts " + verb + " (in a terminal run as administrator)"
	}
	if path != defaultHostsFile() {
		cmd = strings.Replace(cmd, " hosts "+verb, " hosts "+verb+" --file "+path, 1)
	}
	return cmd
}

// hostsFileError makes one plain line of a hosts file error: the file,
// what went wrong, and for a permission error the command to run.
func hostsFileError(verb, path string, err error) error {
	var perm *hostsfile.PermissionError
	if errors.As(err, &perm) {
		cause := perm.Err
		var pathErr *fs.PathError
		var linkErr *os.LinkError
		switch {
		case errors.As(cause, &pathErr):
			cause = pathErr.Err
		case errors.As(cause, &linkErr):
			cause = linkErr.Err
		}
		return fmt.Errorf("localdev: cannot update %s (%v); run: %s", path, cause, hostsCommandFor(verb, path))
	}
	return fmt.Errorf("localdev: %v", err)
}

// --- the command ---

func hostsCommand() *cobra.Command {
	hosts := &cobra.Command{
		Use:   "hosts <sync|clean|show>",
		Short: "Lists the route names in the system hosts file, for programs that do not resolve *.localhost",
		Long: `
Browsers and curl resolve *.localhost by themselves; most other programs
(Python, Node, Go, wget, Java, Safari, getent) ask the system resolver,
which on macOS, and on Linux without nss-myhostname, does not know them.
These commands keep one managed block in the hosts file (default
` + defaultHostsFile() + `) with a 127.0.0.1 and a ::1 line for each exact route name
of the running Caddy:

  caddy localdev hosts sync    write the block (sudo: the file is root's)
  caddy localdev hosts clean   remove the block
  caddy localdev hosts show    print the block sync would write

Every line outside the block stays as it is. To keep the block up to date
by itself, give the localdev directive the 'hosts' option and run Caddy as
a user that may write the file.
`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	sync := &cobra.Command{
		Use:   "sync [--file PATH] [--address ADDR]",
		Short: "Writes the running Caddy's route names into the hosts file",
		Long: `
Writes one block into the hosts file (--file, default ` + defaultHostsFile() + `):
a 127.0.0.1 and a ::1 line for each exact route name of the running Caddy
and each domain's index host other than localhost, and a comment for each
wildcard, which a hosts file cannot list. Every line outside the block
stays as it was; nothing is written when the block is already right. The
file is replaced atomically, with its mode and owner, or rewritten in
place where it cannot be replaced (a file bind-mounted into a container).
`,
	}
	sync.RunE = hostsRunE(func(fl caddycmd.Flags, out io.Writer) error {
		path := hostsPath(fl)
		block, err := hostsBlockFromAPI(fl)
		if err != nil {
			return err
		}
		changed, err := hostsfile.Sync(path, block)
		if err != nil {
			return hostsFileError("sync", path, err)
		}
		if !changed {
			fmt.Fprintf(out, "%s is up to date\n", path)
			return nil
		}
		if err := flushResolverCache(); err != nil {
			fmt.Fprintf(out, "localdev: the resolver cache was not flushed: %v\n", err)
		}
		fmt.Fprintf(out, "%s updated\n", path)
		return nil
	})
	clean := &cobra.Command{
		Use:   "clean [--file PATH]",
		Short: "Removes the localdev block from the hosts file",
		Long: `
Removes the localdev block, and only it, from the hosts file (--file,
default ` + defaultHostsFile() + `). Needs no running Caddy.
`,
	}
	clean.RunE = hostsRunE(func(fl caddycmd.Flags, out io.Writer) error {
		path := hostsPath(fl)
		changed, err := hostsfile.Clean(path)
		if err != nil {
			return hostsFileError("clean", path, err)
		}
		if !changed {
			fmt.Fprintf(out, "%s has no localdev block\n", path)
			return nil
		}
		if err := flushResolverCache(); err != nil {
			fmt.Fprintf(out, "localdev: the resolver cache was not flushed: %v\n", err)
		}
		fmt.Fprintf(out, "%s cleaned\n", path)
		return nil
	})
	show := &cobra.Command{
		Use:   "show [--address ADDR]",
		Short: "Prints the block that sync would write",
	}
	show.RunE = hostsRunE(func(fl caddycmd.Flags, out io.Writer) error {
		block, err := hostsBlockFromAPI(fl)
		if err != nil {
			return err
		}
		_, err = io.WriteString(out, block)
		return err
	})
	for _, sub := range []*cobra.Command{sync, show} {
		sub.Flags().String("address", "", "Address of Caddy's admin API, if not the one in --config or the default")
		sub.Flags().StringP("config", "c", "", "Configuration file to read the admin address from, if --address is not used")
		sub.Flags().StringP("adapter", "a", "", "Name of the config adapter for --config")
	}
	for _, sub := range []*cobra.Command{sync, clean} {
		sub.Flags().String("file", defaultHostsFile(), "The hosts file")
		sub.Args = cobra.NoArgs
	}
	show.Args = cobra.NoArgs
	hosts.AddCommand(sync, clean, show)
	return hosts
}

// errHostsFailed ends a hosts command with status 1 after it printed its
// one line: caddycmd's wrapper would log the error as a structured line.
var errHostsFailed = errors.New("localdev hosts failed")

// hostsRunE runs a hosts subcommand: its output on stdout, a failure as
// one plain line on stderr and exit status 1.
func hostsRunE(f func(caddycmd.Flags, io.Writer) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, _ []string) error {
		err := f(caddycmd.Flags{FlagSet: c.Flags()}, c.OutOrStdout())
		if err == nil {
			return nil
		}
		fmt.Fprintln(c.ErrOrStderr(), strings.ReplaceAll(err.Error(), "\n", " "))
		c.SilenceErrors = true
		c.SilenceUsage = true
		return errHostsFailed
	}
}

func hostsPath(fl caddycmd.Flags) string {
	if p := fl.String("file"); p != "" {
		return p
	}
	return defaultHostsFile()
}

// hostsBlockFromAPI renders the block for the running Caddy's names.
func hostsBlockFromAPI(fl caddycmd.Flags) (string, error) {
	addr, err := cliAdminAddress(fl)
	if err != nil {
		return "", err
	}
	client := adminclient.New(addr)
	ctx := context.Background()
	list, err := client.Routes(ctx)
	if err != nil {
		return "", cliError(err)
	}
	domains, err := client.Domains(ctx)
	if err != nil {
		return "", cliError(err)
	}
	names := make([]string, 0, len(list))
	for _, r := range list {
		names = append(names, r.Name)
	}
	return hostsfile.Block(hostsNames(names, domains)), nil
}

// --- the hosts option: one writer per file per process ---

// hostsBatch is how long a writer waits after a change for more changes
// before it writes: a burst (a folder of files appearing, a reload) makes
// one write.
const hostsBatch = 200 * time.Millisecond

// hostsWriter keeps the managed block of one hosts file equal to the
// route table.
type hostsWriter struct {
	path   string
	logger atomic.Pointer[zap.Logger]
	poke   chan struct{}
	stop   chan struct{}
	done   chan struct{}

	synced bool // the block was made right once: Destruct removes it

	mu     sync.Mutex
	warned bool // a failure was logged; the next one is not, until a write works
}

// startHosts makes sure a writer keeps h.Hosts up to date, using h's
// logger from now on.
func (h *Handler) startHosts() error {
	if h.Hosts == "" {
		return nil
	}
	path, err := expandHome(h.Hosts)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("hosts %q: give the file's full path, such as %s", h.Hosts, defaultHostsFile())
	}
	val, _, err := hostsWriters.LoadOrNew(path, func() (caddy.Destructor, error) {
		return newHostsWriter(path, h.logger), nil
	})
	if err != nil {
		return err
	}
	h.hostsPath = path
	w := val.(*hostsWriter)
	w.logger.Store(h.logger)
	w.wake()
	return nil
}

// stopHosts releases h's reference; the last one stops the writer.
func (h *Handler) stopHosts() {
	if h.hostsPath == "" {
		return
	}
	if _, err := hostsWriters.Delete(h.hostsPath); err != nil {
		h.logger.Error("stopping the hosts file writer", zap.String("file", h.hostsPath), zap.Error(err))
	}
	h.hostsPath = ""
}

func newHostsWriter(path string, logger *zap.Logger) *hostsWriter {
	w := &hostsWriter{path: path, poke: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	w.logger.Store(logger)
	changes, unsubscribe := table.Subscribe()
	watcher := w.watch()
	go func() {
		defer close(w.done)
		defer unsubscribe()
		if watcher != nil {
			defer watcher.Close()
		}
		w.run(changes)
	}()
	return w
}

// watch wakes the writer when another program changes or replaces the
// file (an editor, a tool that rewrites /etc/hosts without our block), so
// that the block comes back. It watches the file's folder, since a
// replaced file is a new file; for a symlink, the target's folder too.
// Our own writes wake it as well, and find nothing to change.
func (w *hostsWriter) watch() *fsnotify.Watcher {
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		w.logger.Load().Debug("not watching the hosts file", zap.String("file", w.path), zap.Error(err))
		return nil
	}
	names := map[string]bool{w.path: true}
	folders := map[string]bool{filepath.Dir(w.path): true}
	if target, err := filepath.EvalSymlinks(w.path); err == nil {
		names[target] = true
		folders[filepath.Dir(target)] = true
	}
	for folder := range folders {
		if err := watcher.Add(folder); err != nil {
			w.logger.Load().Debug("not watching the hosts file's folder", zap.String("folder", folder), zap.Error(err))
		}
	}
	go func() {
		for {
			select {
			case ev, ok := <-watcher.Events:
				if !ok {
					return
				}
				if names[filepath.Clean(ev.Name)] {
					w.wake()
				}
			case _, ok := <-watcher.Errors:
				if !ok {
					return
				}
			}
		}
	}()
	return watcher
}

func (w *hostsWriter) wake() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// run syncs after each burst of changes. The first sync, too, waits for
// the batch: a configuration that is only provisioned and cleaned up at
// once (caddy validate) never touches the file.
func (w *hostsWriter) run(changes <-chan struct{}) {
	w.wake()
	for {
		select {
		case <-w.stop:
			return
		case <-changes:
		case <-w.poke:
		}
		batch := time.NewTimer(hostsBatch)
	collect:
		for {
			select {
			case <-w.stop:
				batch.Stop()
				return
			case <-changes:
			case <-w.poke:
			case <-batch.C:
				break collect
			}
		}
		w.sync()
	}
}

// names is what the block lists now: the table's names and the loaded
// handlers' index hosts.
func (w *hostsWriter) names() []string {
	list := table.Routes()
	names := make([]string, 0, len(list))
	for _, r := range list {
		names = append(names, r.Name)
	}
	return hostsNames(names, loadedDomains())
}

// loadedDomains returns the domains of the loaded localdev handlers.
func loadedDomains() []string {
	loaded.mu.RLock()
	defer loaded.mu.RUnlock()
	domains := make([]string, 0, len(loaded.list))
	for _, h := range loaded.list {
		domains = append(domains, h.domain)
	}
	return domains
}

func (w *hostsWriter) sync() {
	logger := w.logger.Load()
	names := w.names()
	changed, err := hostsfile.Sync(w.path, hostsfile.Block(names))
	if err != nil {
		w.failed(logger, err)
		return
	}
	w.synced = true
	w.mu.Lock()
	w.warned = false
	w.mu.Unlock()
	if !changed {
		return
	}
	logger.Info("hosts file updated", zap.String("file", w.path), zap.Int("names", len(names)))
	if err := flushResolverCache(); err != nil {
		logger.Warn("flushing the resolver cache", zap.Error(err))
	}
}

// failed logs a failure once: a writer that cannot write the file says so
// and how to do it by hand, then carries on quietly until a write works.
func (w *hostsWriter) failed(logger *zap.Logger, err error) {
	w.mu.Lock()
	warned := w.warned
	w.warned = true
	w.mu.Unlock()
	if warned {
		logger.Debug("hosts file not updated", zap.String("file", w.path), zap.Error(err))
		return
	}
	fix := "run Caddy as a user that may write the file, or after route changes run: " + hostsCommandFor("sync", w.path)
	var damaged *hostsfile.DamagedError
	if errors.As(err, &damaged) {
		fix = "fix the localdev marker lines in the file by hand; it is left as it is"
	}
	logger.Warn("cannot update the hosts file: names resolve only in browsers and curl",
		zap.String("file", w.path), zap.Error(err), zap.String("fix", fix))
}

// Destruct stops the writer and removes the block it wrote: no route is
// left to list once the last handler with the option is gone. A writer
// that never synced leaves the file alone.
func (w *hostsWriter) Destruct() error {
	close(w.stop)
	<-w.done
	if !w.synced {
		return nil
	}
	changed, err := hostsfile.Clean(w.path)
	if err != nil {
		w.logger.Load().Debug("hosts block not removed", zap.String("file", w.path), zap.Error(err))
		return nil
	}
	if changed {
		_ = flushResolverCache()
	}
	return nil
}

// Interface guard.
var _ caddy.Destructor = (*hostsWriter)(nil)

// unmarshalHosts reads "hosts" (the system hosts file) or "hosts <file>".
func (h *Handler) unmarshalHosts(d *caddyfile.Dispenser, _ *httpcaddyfile.Helper) error {
	h.Hosts = defaultHostsFile()
	if d.NextArg() {
		h.Hosts = d.Val()
	}
	if d.NextArg() {
		return d.Errf("hosts takes at most one file, got %q too", d.Val())
	}
	return nil
}
