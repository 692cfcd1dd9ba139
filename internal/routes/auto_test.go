package routes

import "testing"

func autoRoute(t *testing.T, name, target string, source Source) *Route {
	t.Helper()
	tg, err := ParseTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	return NewRoute(name, tg, source, "")
}

// TestAutoPrecedence: configuration > folder and API > auto, and an auto
// route comes back into effect when what shadowed it goes.
func TestAutoPrecedence(t *testing.T) {
	tab := NewTable()
	if !tab.PutAuto(autoRoute(t, "web.localhost", "127.0.0.1:5173", SourceAuto)) {
		t.Fatal("a lone auto route is not in effect")
	}
	if r := tab.Lookup("web.localhost"); r == nil || r.Source != SourceAuto || r.Target.Raw != "127.0.0.1:5173" {
		t.Fatalf("lookup: %+v", r)
	}
	// The API wins over auto, without a conflict.
	if _, err := tab.Put(autoRoute(t, "web.localhost", "3000", SourceAPI), false); err != nil {
		t.Fatalf("API put over an auto route: %v", err)
	}
	if r := tab.Lookup("web.localhost"); r.Source != SourceAPI {
		t.Fatalf("after the API put: %s", r.Source)
	}
	if tab.PutAuto(autoRoute(t, "web.localhost", "127.0.0.1:5174", SourceAuto)) {
		t.Error("an auto route claims to be in effect under an API route")
	}
	if _, err := tab.Delete("web.localhost", SourceAPI, Condition{}); err != nil {
		t.Fatal(err)
	}
	if r := tab.Lookup("web.localhost"); r == nil || r.Source != SourceAuto || r.Target.Raw != "127.0.0.1:5174" {
		t.Fatalf("after the API route left: %+v", r)
	}
	// The configuration wins over auto, and over a reload.
	owner := tab.AddConfig([]*Route{autoRoute(t, "web.localhost", "4000", SourceConfig)})
	if r := tab.Lookup("web.localhost"); r.Source != SourceConfig {
		t.Fatalf("with a configured route: %s", r.Source)
	}
	tab.RemoveConfig(owner)
	if r := tab.Lookup("web.localhost"); r == nil || r.Source != SourceAuto {
		t.Fatalf("after the configuration left: %+v", r)
	}
	// Removal only while it still points there.
	if tab.DeleteAuto("web.localhost", "127.0.0.1:5173") {
		t.Error("deleted an auto route that points elsewhere")
	}
	if !tab.DeleteAuto("web.localhost", "127.0.0.1:5174") || tab.Lookup("web.localhost") != nil {
		t.Error("auto route not removed")
	}
	if len(tab.AutoRoutes()) != 0 {
		t.Error("auto routes left")
	}
}
