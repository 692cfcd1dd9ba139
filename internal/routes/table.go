package routes

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Errors that the table's writers return; callers map them to 404 and 409.
var (
	ErrNotFound   = errors.New("no such route")
	ErrConfigured = errors.New("the name is set in the configuration")
	ErrClaimed    = errors.New("the name is held by another source")
	ErrMoved      = errors.New("the route points elsewhere now")
	ErrExists     = errors.New("the name already has a route")
)

// ConflictError is a change the table refused because of the route that
// holds the name now. It unwraps to one of ErrConfigured, ErrClaimed,
// ErrExists or ErrMoved.
type ConflictError struct {
	Name   string
	Reason error  // ErrConfigured, ErrClaimed, ErrExists or ErrMoved
	Holder *Route // the route in effect for Name; nil for ErrConfigured
	Detail string // what the caller asked for that no longer holds, if anything
}

func (e *ConflictError) Error() string {
	msg := e.Name + ": " + e.Reason.Error()
	switch {
	case e.Holder != nil && e.Detail != "":
		return fmt.Sprintf("%s (%s to %s, %s)", msg, describe(e.Holder), e.Holder.Target.Raw, e.Detail)
	case e.Holder != nil:
		return fmt.Sprintf("%s (%s to %s)", msg, describe(e.Holder), e.Holder.Target.Raw)
	}
	return msg
}

func (e *ConflictError) Unwrap() error { return e.Reason }

// Condition limits a Delete to a route that still is what the caller
// put: its target and its owner token, each if not empty.
type Condition struct {
	Target string
	Owner  string
}

// Table is the process's route table. Reads take no lock: they load an
// immutable snapshot that writers replace whole (copy-on-write).
type Table struct {
	current atomic.Pointer[snapshot]

	mu      sync.Mutex
	configs map[uint64]map[string]*Route // by owner; a higher owner is a newer configuration
	runtime map[string]*Route            // folder and API routes; the first claim keeps a name
	owners  uint64
	subs    map[chan struct{}]struct{} // Subscribe's channels
}

// snapshot is one immutable state of the table.
type snapshot struct {
	exact map[string]*Route
	wild  map[string]*Route // keyed by the name without its "*."
	list  []*Route          // sorted by name
}

// NewTable returns an empty table.
func NewTable() *Table {
	t := &Table{configs: make(map[uint64]map[string]*Route), runtime: make(map[string]*Route)}
	t.current.Store(&snapshot{exact: map[string]*Route{}, wild: map[string]*Route{}})
	return t
}

// Lookup returns the route for a normalised host: an exact name first,
// then the most specific wildcard. It takes no lock and does not allocate.
func (t *Table) Lookup(host string) *Route {
	s := t.current.Load()
	if r := s.exact[host]; r != nil {
		return r
	}
	for h := host; ; {
		i := strings.IndexByte(h, '.')
		if i < 0 {
			return nil
		}
		h = h[i+1:]
		if r := s.wild[h]; r != nil {
			return r
		}
	}
}

// Get returns the route with exactly this full name ("*.x" for a wildcard).
func (t *Table) Get(name string) *Route {
	s := t.current.Load()
	if base, ok := strings.CutPrefix(name, "*."); ok {
		return s.wild[base]
	}
	return s.exact[name]
}

// Routes returns every route in effect, sorted by name. The slice is
// shared: do not modify it.
func (t *Table) Routes() []*Route { return t.current.Load().list }

// Len returns the number of routes in effect.
func (t *Table) Len() int { return len(t.current.Load().list) }

// AddConfig adds one configuration's routes and returns its owner ID,
// which RemoveConfig takes and which it sets as each route's Config. A
// later configuration's routes win over an earlier one's, and every
// configuration wins over the folder and the API.
func (t *Table) AddConfig(routes []*Route) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.owners++
	set := make(map[string]*Route, len(routes))
	for _, r := range routes {
		r.Config = t.owners
		r.inherit(t.effective(r.Name))
		set[r.Name] = r
	}
	t.configs[t.owners] = set
	t.publish()
	return t.owners
}

// RemoveConfig drops the routes that AddConfig added under owner.
func (t *Table) RemoveConfig(owner uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.configs[owner]; !ok {
		return
	}
	delete(t.configs, owner)
	t.publish()
}

// Put adds or, with replace, replaces a folder or API route and reports
// whether it was new. A configured name is ErrConfigured; a name that the
// other runtime source (or another folder file) holds is ErrClaimed; an
// existing route without replace is ErrExists.
func (t *Table) Put(r *Route, replace bool) (created bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if created, err = t.put(r, replace); err == nil {
		t.publishName(r.Name)
	}
	return created, err
}

// PutAll puts (replacing) each route as Put does, and publishes once: a
// folder of 10,000 files loads in one step instead of 10,000 copies of the
// table. It returns Put's error for each route, nil for those put.
func (t *Table) PutAll(list []*Route) []error {
	t.mu.Lock()
	defer t.mu.Unlock()
	errs := make([]error, len(list))
	changed := false
	for i, r := range list {
		if _, errs[i] = t.put(r, true); errs[i] == nil {
			changed = true
		}
	}
	if changed {
		t.publish()
	}
	return errs
}

// put is Put without publishing. Callers hold mu.
func (t *Table) put(r *Route, replace bool) (created bool, err error) {
	if t.configured(r.Name) {
		return false, &ConflictError{Name: r.Name, Reason: ErrConfigured}
	}
	old := t.runtime[r.Name]
	if old != nil && !replace {
		return false, &ConflictError{Name: r.Name, Reason: ErrExists, Holder: old}
	}
	if old != nil && (old.Source != r.Source || old.Origin != r.Origin) {
		return false, &ConflictError{Name: r.Name, Reason: ErrClaimed, Holder: old}
	}
	r.inherit(old)
	t.runtime[r.Name] = r
	return old == nil, nil
}

// Delete removes a runtime route of the given source, only while it still
// meets cond (ErrMoved if not): so that one `caddy localdev run` never
// removes the route of another that replaced it.
func (t *Table) Delete(name string, source Source, cond Condition) (*Route, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.runtime[name]
	switch {
	case old == nil && t.configured(name):
		return nil, &ConflictError{Name: name, Reason: ErrConfigured}
	case old == nil:
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	case old.Source != source:
		return nil, &ConflictError{Name: name, Reason: ErrClaimed, Holder: old}
	case cond.Target != "" && old.Target.Raw != cond.Target:
		return nil, &ConflictError{Name: name, Reason: ErrMoved, Holder: old, Detail: "not " + cond.Target}
	case cond.Owner != "" && old.Owner != cond.Owner:
		return nil, &ConflictError{Name: name, Reason: ErrMoved, Holder: old, Detail: "put by another owner"}
	}
	delete(t.runtime, name)
	t.publishName(name)
	return old, nil
}

// DeleteOrigin removes the runtime route that came from origin (a folder
// file), if it still holds name.
func (t *Table) DeleteOrigin(name string, source Source, origin string) *Route {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.deleteOrigin(name, source, origin)
	if old != nil {
		t.publishName(name)
	}
	return old
}

// DeleteOriginAll is DeleteOrigin for many names, published once.
func (t *Table) DeleteOriginAll(names []string, source Source, origin string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := false
	for _, name := range names {
		if t.deleteOrigin(name, source, origin) != nil {
			changed = true
		}
	}
	if changed {
		t.publish()
	}
}

// deleteOrigin is DeleteOrigin without publishing. Callers hold mu.
func (t *Table) deleteOrigin(name string, source Source, origin string) *Route {
	old := t.runtime[name]
	if old == nil || old.Source != source || old.Origin != origin {
		return nil
	}
	delete(t.runtime, name)
	return old
}

func describe(r *Route) string {
	if r.Origin != "" {
		return fmt.Sprintf("%s route from %s", r.Source, r.Origin)
	}
	return fmt.Sprintf("%s route", r.Source)
}

// configured reports whether any configuration sets name. Callers hold mu.
func (t *Table) configured(name string) bool {
	for _, set := range t.configs {
		if set[name] != nil {
			return true
		}
	}
	return false
}

// effective returns the route that wins name now. Callers hold mu.
func (t *Table) effective(name string) *Route {
	var best *Route
	var bestOwner uint64
	for owner, set := range t.configs {
		if r := set[name]; r != nil && owner > bestOwner {
			best, bestOwner = r, owner
		}
	}
	if best != nil {
		return best
	}
	return t.runtime[name]
}

// publish builds a new snapshot from the claims. Callers hold mu.
func (t *Table) publish() {
	winners := make(map[string]*Route, len(t.runtime))
	for name, r := range t.runtime {
		winners[name] = r
	}
	owners := make([]uint64, 0, len(t.configs))
	for owner := range t.configs {
		owners = append(owners, owner)
	}
	sort.Slice(owners, func(i, j int) bool { return owners[i] < owners[j] })
	for _, owner := range owners {
		for name, r := range t.configs[owner] {
			winners[name] = r
		}
	}
	t.current.Store(newSnapshot(winners))
	t.notify()
}

// publishName publishes a change to one name: a copy of the current
// snapshot with that name's winner updated. Callers hold mu.
func (t *Table) publishName(name string) {
	old := t.current.Load()
	s := &snapshot{exact: old.exact, wild: old.wild, list: old.list}
	winner := t.effective(name)
	base, wildcard := strings.CutPrefix(name, "*.")
	if wildcard {
		s.wild = maps.Clone(old.wild)
		setOrDelete(s.wild, base, winner)
	} else {
		s.exact = maps.Clone(old.exact)
		setOrDelete(s.exact, name, winner)
	}
	s.list = replaceInList(old.list, name, winner)
	t.current.Store(s)
	t.notify()
}

// Subscribe returns a channel that receives a value after each change of
// the table, and a function that ends the subscription. Changes coalesce:
// a subscriber that has not read yet gets one value for many changes.
func (t *Table) Subscribe() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	t.mu.Lock()
	if t.subs == nil {
		t.subs = make(map[chan struct{}]struct{})
	}
	t.subs[c] = struct{}{}
	t.mu.Unlock()
	return c, func() {
		t.mu.Lock()
		delete(t.subs, c)
		t.mu.Unlock()
	}
}

// notify wakes the subscribers without blocking. Callers hold mu.
func (t *Table) notify() {
	for c := range t.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

func setOrDelete(m map[string]*Route, key string, r *Route) {
	if r == nil {
		delete(m, key)
		return
	}
	m[key] = r
}

// replaceInList returns a copy of the sorted list with name's entry set
// to r, or removed when r is nil.
func replaceInList(list []*Route, name string, r *Route) []*Route {
	i, found := slices.BinarySearchFunc(list, name, func(e *Route, n string) int { return strings.Compare(e.Name, n) })
	out := make([]*Route, 0, len(list)+1)
	out = append(out, list[:i]...)
	if r != nil {
		out = append(out, r)
	}
	if found {
		i++
	}
	return append(out, list[i:]...)
}

func newSnapshot(winners map[string]*Route) *snapshot {
	s := &snapshot{
		exact: make(map[string]*Route, len(winners)),
		wild:  make(map[string]*Route),
		list:  make([]*Route, 0, len(winners)),
	}
	for name, r := range winners {
		if base, ok := strings.CutPrefix(name, "*."); ok {
			s.wild[base] = r
		} else {
			s.exact[name] = r
		}
		s.list = append(s.list, r)
	}
	sort.Slice(s.list, func(i, j int) bool { return s.list[i].Name < s.list[j].Name })
	return s
}
