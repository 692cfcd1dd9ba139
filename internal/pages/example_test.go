package pages_test

import (
	"os"

	"github.com/localdev/localdev/internal/pages"
)

func ExampleRenderNotFoundText() {
	routes := []pages.Route{
		{Name: "app.localhost", URL: "https://app.localhost", Target: "62893", Source: "config", Up: true},
	}
	host := "foo.localhost"
	names := make([]string, len(routes))
	for i, r := range routes {
		names[i] = r.Name
	}
	d := pages.NotFound{Host: host, Domain: "localhost", Routes: routes}
	if i := pages.Suggest("ap.localhost", names); i >= 0 {
		d.Suggestion = &routes[i]
	}
	_ = pages.RenderNotFoundText(os.Stdout, d)
	// Output:
	// localdev: no app named foo.localhost
	// did you mean app.localhost? https://app.localhost
	// routes:
	//   app.localhost -> 62893
}
