package localdev

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/routes"
)

// folders holds one watcher per route folder for the whole process, so a
// reload that keeps a folder keeps its routes without a gap.
var folders = caddy.NewUsagePool()

// folderRescan is how often a folder is read again even without events:
// it notices a folder that was deleted and created again, and names freed
// by the configuration.
const folderRescan = 500 * time.Millisecond

// folderSettle lets a burst of events (an editor's save) end before the
// folder is read.
const folderSettle = 50 * time.Millisecond

// startDirs starts (or shares) a watcher for each route folder.
func (h *Handler) startDirs(ctx caddy.Context) error {
	for _, d := range h.Dirs {
		path, err := expandHome(d)
		if err != nil {
			return err
		}
		key := h.domain + "\x00" + path
		_, _, err = folders.LoadOrNew(key, func() (caddy.Destructor, error) {
			return watchFolder(path, h.domain, ctx.Logger().Named("dir"))
		})
		if err != nil {
			return fmt.Errorf("dir %q: %w", d, err)
		}
		h.folderKeys = append(h.folderKeys, key)
	}
	return nil
}

// stopDirs releases this configuration's folder watchers.
func (h *Handler) stopDirs() error {
	for _, key := range h.folderKeys {
		_, _ = folders.Delete(key)
	}
	h.folderKeys = nil
	return nil
}

// folder watches one route folder and keeps its routes in the table.
type folder struct {
	path    string
	domain  string
	logger  *zap.Logger
	watcher *fsnotify.Watcher
	stop    chan struct{}
	done    chan struct{}

	watching bool
	held     map[string]string // route name -> target, for routes this folder put
	problems map[string]string // file -> last problem logged, to log each once
}

func watchFolder(path, domain string, logger *zap.Logger) (*folder, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	f := &folder{
		path: path, domain: domain, logger: logger, watcher: w,
		stop: make(chan struct{}), done: make(chan struct{}),
		held: make(map[string]string), problems: make(map[string]string),
	}
	f.rescan()
	go f.run()
	return f, nil
}

// Destruct stops watching and removes the folder's routes.
func (f *folder) Destruct() error {
	close(f.stop)
	<-f.done
	return f.watcher.Close()
}

func (f *folder) run() {
	defer close(f.done)
	tick := time.NewTicker(folderRescan)
	defer tick.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	for {
		select {
		case <-f.watcher.Events:
			settle.Reset(folderSettle)
		case err := <-f.watcher.Errors:
			f.logger.Warn("watching route folder", zap.String("dir", f.path), zap.Error(err))
		case <-settle.C:
			f.rescan()
		case <-tick.C:
			f.rescan()
		case <-f.stop:
			f.release(nil)
			return
		}
	}
}

// rescan reads the folder and brings the table in line with its files.
func (f *folder) rescan() {
	entries, err := os.ReadDir(f.path)
	if err != nil {
		f.watching = false
		f.release(nil)
		return
	}
	if !f.watching {
		if err := f.watcher.Add(f.path); err == nil {
			f.watching = true
		}
	}
	want := make(map[string]string)
	files := make(map[string]string) // route name -> its file
	present := make(map[string]bool, len(entries))
	for _, e := range entries {
		file := filepath.Join(f.path, e.Name())
		present[file] = true
		name, target, ok := f.readEntry(e)
		if ok && files[name] != "" {
			f.problem(file, fmt.Sprintf("%s is already routed by %s", name, files[name]))
			continue
		}
		if ok {
			want[name] = target
			files[name] = file
		}
	}
	for file := range f.problems {
		if !present[file] {
			delete(f.problems, file)
		}
	}
	f.release(want)
	for name, target := range want {
		f.claim(name, target, files[name])
	}
}

// readEntry reads one file as a route, logging (once) why a file is
// skipped.
func (f *folder) readEntry(e fs.DirEntry) (name, target string, ok bool) {
	file := filepath.Join(f.path, e.Name())
	if ignoredFile(e.Name()) || !(e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0) {
		return "", "", false
	}
	name, target, err := readRouteFile(file, e.Name(), f.domain)
	if errors.Is(err, errNotRegular) {
		return "", "", false // a link to a folder or a device: not a route
	}
	if err != nil {
		f.problem(file, err.Error())
		return "", "", false
	}
	return name, target, true
}

// claim puts the folder's route for name, from file, unless it already
// holds it.
func (f *folder) claim(name, target, file string) {
	if held, ok := f.held[name]; ok && held == target {
		delete(f.problems, file)
		return
	}
	t, _ := routes.ParseTarget(target)
	_, err := table.Put(routes.NewRoute(name, t, routes.SourceDir, f.path), true)
	if err != nil {
		if _, ok := f.held[name]; ok {
			// The name is no longer ours (a reload configured it): drop the
			// old route instead of keeping a stale one that outlives its file.
			table.DeleteOrigin(name, routes.SourceDir, f.path)
			delete(f.held, name)
		}
		f.problem(file, err.Error())
		return
	}
	f.held[name] = target
	delete(f.problems, file)
	f.logger.Info("route", zap.String("name", name), zap.String("target", target), zap.String("source", string(routes.SourceDir)), zap.String("file", file))
}

// release removes the routes this folder holds that want does not list.
// A route whose target changed stays until claim replaces it, without a gap.
func (f *folder) release(want map[string]string) {
	for name := range f.held {
		if _, ok := want[name]; ok {
			continue
		}
		table.DeleteOrigin(name, routes.SourceDir, f.path)
		f.logger.Info("route removed", zap.String("name", name), zap.String("source", string(routes.SourceDir)))
		delete(f.held, name)
	}
}

func (f *folder) problem(file, why string) {
	if f.problems[file] == why {
		return
	}
	f.problems[file] = why
	f.logger.Warn("skipping route file", zap.String("file", file), zap.String("reason", why))
}

// readRouteFile reads a route file: its name is the route's name, its
// first line that is neither blank nor a comment is the target.
func readRouteFile(path, base, domain string) (name, target string, err error) {
	name, err = routes.NormalizeName(base, domain)
	if err != nil {
		return "", "", err
	}
	// Non-blocking, so that a FIFO swapped in cannot hang the watcher;
	// links are followed (dotfile managers link route files in).
	fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", "", err
	}
	defer fh.Close()
	if info, err := fh.Stat(); err != nil || !info.Mode().IsRegular() {
		return "", "", errNotRegular
	}
	sc := bufio.NewScanner(io.LimitReader(fh, 64<<10))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, err := routes.ParseTarget(line); err != nil {
			return "", "", err
		}
		return name, line, nil
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	return "", "", errors.New("no target: write a port such as 5173 on the first line")
}

// errNotRegular is a folder entry that is not a regular file.
var errNotRegular = errors.New("not a regular file")

// ignoredFile reports whether a file is a dotfile or an editor's file.
func ignoredFile(base string) bool {
	return strings.HasPrefix(base, ".") || strings.HasSuffix(base, "~") ||
		strings.HasSuffix(base, ".swp") || strings.HasSuffix(base, ".swx") ||
		strings.HasSuffix(base, ".tmp")
}
