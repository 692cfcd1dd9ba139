package routes

// SourceAuto is a route that the `auto` option made for a dev server it
// found listening: the lowest precedence, below the configuration, the
// folder and the API.
const SourceAuto Source = "auto"

// PutAuto adds or replaces an auto route and reports whether it is in
// effect: a route of the same name from any other source wins over it,
// and it comes into effect when that one goes.
func (t *Table) PutAuto(r *Route) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	r.Source = SourceAuto
	old := t.auto[r.Name]
	if old != nil && old.Target.Raw == r.Target.Raw {
		return t.effective(r.Name) == old
	}
	r.inherit(old)
	t.auto[r.Name] = r
	t.publishName(r.Name)
	return t.effective(r.Name) == r
}

// DeleteAuto removes the auto route name if it still points at target,
// and reports whether it did.
func (t *Table) DeleteAuto(name, target string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.auto[name]
	if old == nil || old.Target.Raw != target {
		return false
	}
	delete(t.auto, name)
	t.publishName(name)
	return true
}

// AutoRoutes returns the auto routes by name, in effect or not.
func (t *Table) AutoRoutes() map[string]*Route {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]*Route, len(t.auto))
	for name, r := range t.auto {
		out[name] = r
	}
	return out
}
