package routes

import (
	"errors"
	"fmt"
	"testing"
)

// TestPutAll: PutAll puts what Put would, refuses what Put would refuse,
// and publishes once.
func TestPutAll(t *testing.T) {
	tb := NewTable()
	tb.AddConfig([]*Route{route(t, "conf", "4000", SourceConfig)})
	if _, err := tb.Put(route(t, "api", "4001", SourceAPI), false); err != nil {
		t.Fatal(err)
	}
	var list []*Route
	for i := range 1000 {
		r := route(t, fmt.Sprintf("app-%04d", i), "5000", SourceDir)
		r.Origin = "/routes"
		list = append(list, r)
	}
	conf, api := route(t, "conf", "5001", SourceDir), route(t, "api", "5002", SourceDir)
	list = append(list, conf, api)
	changed, stop := tb.Subscribe()
	defer stop()
	errs := tb.PutAll(list)
	for i, err := range errs[:1000] {
		if err != nil || tb.Get(list[i].Name) != list[i] {
			t.Fatalf("%s: %v", list[i].Name, err)
		}
	}
	if !errors.Is(errs[1000], ErrConfigured) || !errors.Is(errs[1001], ErrClaimed) {
		t.Errorf("errors for a configured and an API name: %v, %v", errs[1000], errs[1001])
	}
	select {
	case <-changed:
	default:
		t.Error("PutAll did not announce the change")
	}
	if errs := tb.PutAll([]*Route{conf}); errs[0] == nil {
		t.Error("a refused PutAll succeeded")
	}
	select {
	case <-changed:
		t.Error("a PutAll that changed nothing announced a change")
	default:
	}
	if tb.Len() != 1002 || tb.Lookup("conf.localhost").Source != SourceConfig {
		t.Errorf("table of %d routes after PutAll", tb.Len())
	}

	names := make([]string, 0, 1001)
	for _, r := range list[:1000] {
		names = append(names, r.Name)
	}
	names = append(names, "api.localhost") // another source's: kept
	tb.DeleteOriginAll(names, SourceDir, "/routes")
	if tb.Len() != 2 || tb.Get("api.localhost") == nil || tb.Get("app-0001.localhost") != nil {
		t.Errorf("after DeleteOriginAll: %d routes", tb.Len())
	}
}

// BenchmarkPutAll is a folder of 10,000 files loading at once.
func BenchmarkPutAll(b *testing.B) {
	tgt, _ := ParseTarget("5173")
	for b.Loop() {
		tb := NewTable()
		list := make([]*Route, 10000)
		for i := range list {
			list[i] = NewRoute(fmt.Sprintf("app-%05d.localhost", i), tgt, SourceDir, "/routes")
		}
		tb.PutAll(list)
	}
}
