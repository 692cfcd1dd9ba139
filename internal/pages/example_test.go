package pages_test

import (
	"fmt"
	"os"

	"github.com/localdev/localdev/internal/pages"
	"github.com/localdev/localdev/internal/routes"
)

func ExampleSuggest() {
	names := []string{"app.localhost", "docs.localhost", "*.shop.localhost"}
	for _, host := range []string{"ap.localhost", "dcos.localhost", "x.shpo.localhost", "billing.localhost"} {
		if i := pages.Suggest(host, names); i >= 0 {
			fmt.Printf("%s: did you mean %s?\n", host, names[i])
		} else {
			fmt.Printf("%s: no suggestion\n", host)
		}
	}
	// Output:
	// ap.localhost: did you mean app.localhost?
	// dcos.localhost: did you mean docs.localhost?
	// x.shpo.localhost: did you mean *.shop.localhost?
	// billing.localhost: no suggestion
}

func ExampleRenderNotFoundText() {
	list := []routes.Info{
		{Name: "app.localhost", URL: "https://app.localhost", Target: "62893", Source: "config", Up: true},
		{Name: "docs.localhost", URL: "https://docs.localhost", Target: "62894", Source: "dir"},
	}
	host := "ap.localhost"
	names := make([]string, len(list))
	for i, r := range list {
		names[i] = r.Name
	}
	d := pages.NotFound{Host: host, Domain: "localhost"}
	listed, suggestion := pages.NotFoundRoutes(host, names)
	for _, i := range listed {
		d.Routes = append(d.Routes, list[i])
	}
	if suggestion >= 0 {
		d.Suggestion = &list[suggestion]
	}
	_ = pages.RenderNotFoundText(os.Stdout, d)
	// Output:
	// localdev: no app named ap.localhost
	// did you mean app.localhost? https://app.localhost
	// routes:
	//   app.localhost  -> 62893
	//   docs.localhost -> 62894  (down)
}
