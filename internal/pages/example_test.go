package pages_test

import (
	"os"

	"github.com/localdev/localdev/internal/pages"
	"github.com/localdev/localdev/internal/routes"
)

func ExampleRenderNotFoundText() {
	list := []routes.Info{
		{Name: "app.localhost", URL: "https://app.localhost", Target: "62893", Source: "config", Up: true},
	}
	host := "foo.localhost"
	names := make([]string, len(list))
	for i, r := range list {
		names[i] = r.Name
	}
	d := pages.NotFound{Host: host, Domain: "localhost", Routes: list}
	if i := pages.Suggest("ap.localhost", names); i >= 0 {
		d.Suggestion = &list[i]
	}
	_ = pages.RenderNotFoundText(os.Stdout, d)
	// Output:
	// localdev: no app named foo.localhost
	// did you mean app.localhost? https://app.localhost
	// routes:
	//   app.localhost -> 62893
}
