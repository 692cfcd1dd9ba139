package localdev

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/localdev/localdev/internal/routefile"
	"github.com/localdev/localdev/internal/routes"
)

// folderSettle lets a burst of events (an editor's save) end before the
// folder is read; folderMaxDelay bounds how long a steady stream of events
// can put the read off, so that changes apply within a second.
const (
	folderSettle   = 50 * time.Millisecond
	folderMaxDelay = 500 * time.Millisecond
)

// maxPending is how many changed files are read one by one; past that the
// whole folder is read.
const maxPending = 1000

// startDirs starts (or shares) a watcher for each route folder. A shared
// watcher logs through the newest configuration's logger from now on.
func (h *Handler) startDirs(ctx caddy.Context) error {
	logger := ctx.Logger().Named("dir")
	for i, path := range h.dirPaths { // h.Dirs, expanded by Provision
		key := h.domain + "\x00" + path
		val, _, err := folders.LoadOrNew(key, func() (caddy.Destructor, error) {
			return watchFolder(path, h.domain, logger)
		})
		if err != nil {
			return fmt.Errorf("dir %q: %w", h.Dirs[i], err)
		}
		f := val.(*folder)
		f.logs.push(h, logger)
		h.heldDirs = append(h.heldDirs, heldFolder{key, f})
	}
	return nil
}

// heldFolder is a folder watcher a handler holds in the pool.
type heldFolder struct {
	key string
	f   *folder
}

// stopDirs releases this configuration's folder watchers.
func (h *Handler) stopDirs() error {
	for _, held := range h.heldDirs {
		held.f.logs.drop(h)
		_, _ = folders.Delete(held.key)
	}
	h.heldDirs = nil
	return nil
}

// loggers is the loggers of the configurations sharing a folder watcher,
// oldest first: the watcher logs through the newest, so that a reload that
// changes logging takes effect (the first configuration's logger writes
// nowhere once it is gone).
type loggers struct {
	mu   sync.Mutex
	list []ownedLogger
}

type ownedLogger struct {
	owner  *Handler
	logger *zap.Logger
}

func (l *loggers) push(owner *Handler, logger *zap.Logger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, ownedLogger{owner, logger})
}

func (l *loggers) drop(owner *Handler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = slices.DeleteFunc(l.list, func(o ownedLogger) bool { return o.owner == owner })
}

// current is the newest configuration's logger, or the first one's when
// none is left (the watcher is stopping).
func (l *loggers) current(first *zap.Logger) *zap.Logger {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.list) == 0 {
		return first
	}
	return l.list[len(l.list)-1].logger
}

// folder watches one route folder and keeps its routes in the table. It
// reads the folder only when fsnotify reports a change in it (or to the
// folder itself, seen from its parent, or to a file a route file links
// to), and retries names that another source held only when the table
// changes: an unchanged folder costs nothing.
type folder struct {
	path    string
	domain  string
	first   *zap.Logger // the first configuration's, until push
	logs    loggers
	watcher *fsnotify.Watcher
	stop    chan struct{}
	done    chan struct{}

	watched   map[string]bool       // folders watched besides path: the one above it, those of linked files
	linked    map[string]bool       // the files route files link to, resolved
	unwatched map[string]bool       // folders that could not be watched, logged once
	routes    map[string]routeEntry // file -> the route it names, for the files that are routes
	held      map[string]string     // route name -> target, for routes this folder put
	blocked   map[string]routeFile  // route name -> the file refused because another source holds the name
	problems  map[string]string     // file -> last problem logged, to log each once

	changes     <-chan struct{} // the table's changes (Subscribe), read while a name is blocked
	unsubscribe func()
}

// routeEntry is what a route file says.
type routeEntry struct {
	name, target string
}

// routeFile is a route file's target, and the file.
type routeFile struct {
	target, file string
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
		path: path, domain: domain, first: logger, watcher: w,
		stop: make(chan struct{}), done: make(chan struct{}),
		watched: make(map[string]bool), linked: make(map[string]bool), unwatched: make(map[string]bool),
		routes: make(map[string]routeEntry), held: make(map[string]string), blocked: make(map[string]routeFile), problems: make(map[string]string),
	}
	// Subscribed before the first claims, so that a name freed after a
	// refusal is never missed.
	f.changes, f.unsubscribe = table.Subscribe()
	f.safely("reading the route folder", f.rescan)
	go f.run()
	return f, nil
}

func (f *folder) logger() *zap.Logger { return f.logs.current(f.first) }

// Destruct stops watching and removes the folder's routes.
func (f *folder) Destruct() error {
	close(f.stop)
	<-f.done
	f.unsubscribe()
	return f.watcher.Close()
}

func (f *folder) run() {
	defer close(f.done)
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	var (
		burst   time.Time       // when the first event not yet read arrived
		pending map[string]bool // files of the folder the events since then named
		full    bool            // an event needs the whole folder read
	)
	for {
		var changed <-chan struct{}
		if len(f.blocked) > 0 {
			changed = f.changes
		}
		select {
		case ev, ok := <-f.watcher.Events:
			if !ok {
				f.safely("removing the folder's routes", func() { f.release(nil) })
				return
			}
			if !f.concerns(ev.Name) {
				continue
			}
			if filepath.Dir(ev.Name) == f.path && ev.Name != f.path && len(pending) < maxPending {
				if pending == nil {
					pending = make(map[string]bool)
				}
				pending[ev.Name] = true
			} else {
				full = true // the folder itself, a folder above, a linked file, or a flood
			}
			now := time.Now()
			if burst.IsZero() {
				burst = now
			}
			settle.Reset(max(0, min(folderSettle, folderMaxDelay-now.Sub(burst))))
		case err, ok := <-f.watcher.Errors:
			if !ok {
				f.safely("removing the folder's routes", func() { f.release(nil) })
				return
			}
			f.logger().Warn("watching route folder", zap.String("dir", f.path), zap.Error(err))
			// Events may have been lost (a full queue): read the folder.
			full = true
			settle.Reset(folderSettle)
		case <-settle.C:
			if full {
				f.safely("reading the route folder", f.rescan)
			} else {
				files := pending
				f.safely("reading route files", func() { f.update(files) })
			}
			burst, pending, full = time.Time{}, nil, false
		case <-changed:
			f.safely("retrying route files", f.retryBlocked)
		case <-f.stop:
			f.safely("removing the folder's routes", func() { f.release(nil) })
			return
		}
	}
}

// safely runs one step of the watcher; a panic in it is logged and the
// watcher keeps going.
func (f *folder) safely(what string, step func()) {
	defer func() {
		if err := recover(); err != nil {
			f.logger().Error("panic "+what, zap.String("dir", f.path), zap.Any("error", err), zap.ByteString("stack", debug.Stack()))
		}
	}()
	step()
}

// concerns reports whether an event for name can change the folder's
// routes: a file in the folder, the folder itself, a folder above it
// (created or removed, from the ancestor's watch), or the file a route
// file links to (written or replaced where it lives).
func (f *folder) concerns(name string) bool {
	return name == f.path || filepath.Dir(name) == f.path ||
		strings.HasPrefix(f.path, name+string(filepath.Separator)) ||
		f.linked[name]
}

// watch makes sure the folder is watched, and the folders beyond it that
// can change its routes: the folder above it (the folder's own watch goes
// when the folder is removed or renamed, and the one above sees it come
// back; when the parent is gone too, the nearest folder above that exists
// stands in for it), and the folders of the files route files link to
// (dotfile managers keep the real files elsewhere).
func (f *folder) watch() {
	_ = f.watcher.Add(f.path) // a no-op when already watched; fails when the folder is gone
	above := filepath.Dir(f.path)
	for above != filepath.Dir(above) {
		if info, err := os.Stat(above); err == nil && info.IsDir() {
			break
		}
		above = filepath.Dir(above)
	}
	want := map[string]bool{above: true}
	for target := range f.linked {
		want[filepath.Dir(target)] = true
	}
	delete(want, f.path) // its watch is the folder's own, above
	for dir := range f.watched {
		if !want[dir] {
			_ = f.watcher.Remove(dir)
			delete(f.watched, dir)
		}
	}
	for dir := range want {
		if f.watched[dir] {
			continue
		}
		if err := f.watcher.Add(dir); err != nil {
			if !f.unwatched[dir] { // once, not at every read
				f.unwatched[dir] = true
				f.logger().Warn("watching a folder for a route folder", zap.String("dir", dir), zap.String("for", f.path), zap.Error(err))
			}
			continue
		}
		delete(f.unwatched, dir)
		f.watched[dir] = true
	}
}

// rescan reads the whole folder and brings the table in line with its
// files.
func (f *folder) rescan() {
	f.watch() // before reading, so that nothing written after the read is missed
	clear(f.blocked)
	clear(f.routes)
	entries, err := os.ReadDir(f.path)
	if err != nil {
		clear(f.linked)
		f.watch()
		f.release(nil)
		return
	}
	present := make(map[string]bool, len(entries))
	linked := make(map[string]bool)
	for _, e := range entries {
		file := filepath.Join(f.path, e.Name())
		present[file] = true
		if target := f.read(file, e); target != "" {
			linked[target] = true
		}
	}
	for file := range f.problems {
		if !present[file] {
			delete(f.problems, file)
		}
	}
	if !maps.Equal(linked, f.linked) {
		f.linked = linked
		f.watch()
	}
	f.apply()
}

// update reads again only the files named, after events for them alone:
// a change in a folder of 10,000 files costs one file's reading.
func (f *folder) update(files map[string]bool) {
	clear(f.blocked)
	relink := false
	for file := range files {
		delete(f.routes, file)
		info, err := os.Lstat(file)
		if err != nil {
			delete(f.problems, file)
			continue
		}
		if target := f.read(file, fs.FileInfoToDirEntry(info)); target != "" && !f.linked[target] {
			f.linked[target] = true
			relink = true
		}
	}
	if relink {
		f.watch()
	}
	f.apply()
}

// read reads one folder entry into f.routes (when it is a route) and
// returns, for a link, the file it links to.
func (f *folder) read(file string, e fs.DirEntry) (linked string) {
	if e.Type()&fs.ModeSymlink != 0 && !routefile.Ignored(e.Name()) {
		linked = linkTarget(file)
	}
	if name, target, ok := f.readEntry(e); ok {
		f.routes[file] = routeEntry{name: name, target: target}
	}
	return linked
}

// apply brings the table in line with f.routes: of two files for one
// name, the first in name order wins and the other is skipped with a
// warning.
func (f *folder) apply() {
	want := make(map[string]routeFile, len(f.routes)) // route name -> its file
	for _, file := range slices.Sorted(maps.Keys(f.routes)) {
		r := f.routes[file]
		if first := want[r.name].file; first != "" {
			f.problem(file, fmt.Sprintf("%s is already routed by %s", r.name, first))
			continue
		}
		want[r.name] = routeFile{target: r.target, file: file}
	}
	f.release(want)
	f.claim(want)
}

// linkTarget is the file a link points to, resolved, or where it would be
// for a dangling link (so that its creation is seen); "" if unknown.
func linkTarget(link string) string {
	if target, err := filepath.EvalSymlinks(link); err == nil {
		return target
	}
	target, err := os.Readlink(link)
	if err != nil {
		return ""
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(link), target)
	}
	return filepath.Clean(target)
}

// retryBlocked tries again the files whose name another source held, now
// that the table changed.
func (f *folder) retryBlocked() {
	blocked := maps.Clone(f.blocked)
	clear(f.blocked)
	f.claim(blocked)
}

// readEntry reads one file as a route, logging (once) why a file is
// skipped.
func (f *folder) readEntry(e fs.DirEntry) (name, target string, ok bool) {
	file := filepath.Join(f.path, e.Name())
	if routefile.Ignored(e.Name()) || !(e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0) {
		return "", "", false
	}
	name, target, err := routefile.Read(file, e.Name(), f.domain)
	if errors.Is(err, routefile.ErrNotRegular) {
		return "", "", false // a link to a folder or a device: not a route
	}
	if err != nil {
		f.problem(file, err.Error())
		return "", "", false
	}
	return name, target, true
}

// claim puts the folder's routes for want, in one step, except those it
// already holds. A name another source holds is tried again when the table
// changes.
func (f *folder) claim(want map[string]routeFile) {
	var list []*routes.Route
	for name, rf := range want {
		if held, ok := f.held[name]; ok && held == rf.target {
			delete(f.problems, rf.file)
			continue
		}
		t, _ := routes.ParseTarget(rf.target)
		list = append(list, routes.NewRoute(name, t, routes.SourceDir, f.path))
	}
	if len(list) == 0 {
		return
	}
	slices.SortFunc(list, func(a, b *routes.Route) int { return strings.Compare(a.Name, b.Name) })
	for i, err := range table.PutAll(list) {
		name := list[i].Name
		rf := want[name]
		if err != nil {
			if _, ok := f.held[name]; ok {
				// The name is no longer ours (a reload configured it): drop the
				// old route instead of keeping a stale one that outlives its file.
				table.DeleteOrigin(name, routes.SourceDir, f.path)
				delete(f.held, name)
			}
			if errors.Is(err, routes.ErrConfigured) || errors.Is(err, routes.ErrClaimed) {
				f.blocked[name] = rf
			}
			f.problem(rf.file, err.Error())
			continue
		}
		f.held[name] = rf.target
		delete(f.problems, rf.file)
		f.logger().Info("route", zap.String("name", name), zap.String("target", rf.target), zap.String("source", string(routes.SourceDir)), zap.String("file", rf.file))
	}
}

// release removes, in one step, the routes this folder holds that want
// does not list. A route whose target changed stays until claim replaces
// it, without a gap.
func (f *folder) release(want map[string]routeFile) {
	var gone []string
	for name := range f.held {
		if _, ok := want[name]; !ok {
			gone = append(gone, name)
		}
	}
	if len(gone) == 0 {
		return
	}
	slices.Sort(gone)
	table.DeleteOriginAll(gone, routes.SourceDir, f.path)
	for _, name := range gone {
		f.logger().Info("route removed", zap.String("name", name), zap.String("source", string(routes.SourceDir)))
		delete(f.held, name)
	}
}

func (f *folder) problem(file, why string) {
	if f.problems[file] == why {
		return
	}
	f.problems[file] = why
	f.logger().Warn("skipping route file", zap.String("file", file), zap.String("reason", why))
}
