package pages

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/localdev/localdev/internal/routes"
)

// manyRoutes is a table of n routes named like manyNames.
func manyRoutes(n int) ([]routes.Info, []string) {
	names := manyNames(n)
	infos := make([]routes.Info, n)
	for i, name := range names {
		infos[i] = routes.Info{Name: name, URL: "https://" + name, Target: fmt.Sprint(20000 + i), Source: "dir", Up: i%2 == 0}
	}
	return infos, names
}

// notFoundFor builds the 404 page's data as the handler does.
func notFoundFor(host string, infos []routes.Info, names []string) NotFound {
	d := NotFound{Host: host, Domain: "localhost", Routes: []routes.Info{}, Count: len(infos), Dashboard: "https://localhost:8443"}
	list, suggestion := NotFoundRoutes(host, names)
	for _, i := range list {
		d.Routes = append(d.Routes, infos[i])
		if i == suggestion {
			d.Suggestion = &d.Routes[len(d.Routes)-1]
		}
	}
	return d
}

// TestNotFoundManyRoutes: with 10,000 routes the 404 page lists the
// closest names, the count and a link to the dashboard, and stays under
// 100 KB, for a typo and for the longest Host.
func TestNotFoundManyRoutes(t *testing.T) {
	infos, names := manyRoutes(10000)
	for _, host := range []string{"app-04217.localhost", "ap-04217.localhost", "billing.localhost", strings.Repeat("a", 243) + ".localhost", strings.Repeat("abcdefghi.", 24) + "localhost"} {
		d := notFoundFor(host, infos, names)
		if len(d.Routes) > MaxNotFoundClosest {
			t.Errorf("%.20s: %d routes listed, want at most %d", host, len(d.Routes), MaxNotFoundClosest)
		}
		for _, f := range []struct {
			what   string
			render func(io.Writer, NotFound) error
		}{{"HTML", RenderNotFound}, {"text", RenderNotFoundText}} {
			page := renderString(t, func(w io.Writer) error { return f.render(w, d) })
			t.Logf("%.20s… %s: %d bytes, %d routes listed", host, f.what, len(page), len(d.Routes))
			if len(page) > 100_000 {
				t.Errorf("%.20s… %s: %d bytes, want at most 100 KB", host, f.what, len(page))
			}
			if !strings.Contains(page, "10000 routes") || !strings.Contains(page, "https://localhost:8443") {
				t.Errorf("%.20s… %s lacks the count or the dashboard link:\n%s", host, f.what, page)
			}
			if strings.HasPrefix(host, "ap") && !strings.Contains(page, "app-04217.localhost") {
				t.Errorf("%s %s does not suggest app-04217.localhost", host, f.what)
			}
			if f.what == "HTML" {
				checkHTML(t, page)
				if strings.HasPrefix(host, "ap") && !strings.Contains(page, "Closest routes") {
					t.Errorf("%s: HTML does not head the list as the closest routes", host)
				}
			}
		}
	}
	// The typo's own route comes first and is the suggestion.
	d := notFoundFor("ap-04217.localhost", infos, names)
	if d.Suggestion == nil || d.Suggestion.Name != "app-04217.localhost" || d.Routes[0].Name != "app-04217.localhost" {
		t.Errorf("suggestion %v, first listed %q; want app-04217.localhost", d.Suggestion, d.Routes[0].Name)
	}
}

// TestNotFoundFewRoutes: up to MaxNotFoundRows routes are all listed,
// with no count line.
func TestNotFoundFewRoutes(t *testing.T) {
	infos, names := manyRoutes(MaxNotFoundRows)
	d := notFoundFor("zzz.localhost", infos, names)
	if len(d.Routes) != MaxNotFoundRows {
		t.Fatalf("%d routes listed, want all %d", len(d.Routes), MaxNotFoundRows)
	}
	page := renderString(t, func(w io.Writer) error { return RenderNotFound(w, d) })
	if strings.Contains(page, "in all") || strings.Contains(page, "Closest") || !strings.Contains(page, names[MaxNotFoundRows-1]) {
		t.Error("a short table is not listed in full")
	}
	// Callers that leave Count at 0 get the list as complete.
	d.Count = 0
	if page := renderString(t, func(w io.Writer) error { return RenderNotFoundText(w, d) }); strings.Contains(page, "in all") {
		t.Errorf("Count 0 read as a partial list:\n%s", page)
	}
}

// TestNotFoundUnchecked: a route whose health has not been checked yet is
// shown neither up nor down, in HTML and in text; checked routes keep
// their up and down.
func TestNotFoundUnchecked(t *testing.T) {
	list := []routes.Info{
		{Name: "fresh.localhost", URL: "https://fresh.localhost", Target: "5173", Source: "api", Unchecked: true},
		{Name: "live.localhost", URL: "https://live.localhost", Target: "5174", Source: "config", Up: true},
		{Name: "dead.localhost", URL: "https://dead.localhost", Target: "5175", Source: "config"},
	}
	d := NotFound{Host: "fersh.localhost", Domain: "localhost", Routes: list, Suggestion: &list[0]}
	page := renderString(t, func(w io.Writer) error { return RenderNotFound(w, d) })
	checkHTML(t, page)
	for _, tt := range []struct{ name, badge string }{
		{"fresh.localhost", `<span class="badge" data-up="unknown">not checked yet</span>`},
		{"live.localhost", `<span class="badge" data-up="true">up</span>`},
		{"dead.localhost", `<span class="badge" data-up="false">down</span>`},
	} {
		_, row, _ := strings.Cut(page, `<tbody data-route="`+tt.name+`">`)
		row, _, _ = strings.Cut(row, "</tbody>")
		if !strings.Contains(row, tt.badge) {
			t.Errorf("HTML row of %s: %q, want the badge %s", tt.name, row, tt.badge)
		}
	}
	text := renderString(t, func(w io.Writer) error { return RenderNotFoundText(w, d) })
	for _, tt := range []struct{ name, end string }{
		{"fresh.localhost", "-> 5173  (not checked yet)"},
		{"live.localhost", "-> 5174"},
		{"dead.localhost", "-> 5175  (down)"},
	} {
		i := strings.Index(text, "\n  "+tt.name)
		if i < 0 {
			t.Fatalf("text lacks %s:\n%s", tt.name, text)
		}
		line, _, _ := strings.Cut(text[i+1:], "\n")
		if !strings.HasSuffix(line, tt.end) {
			t.Errorf("text line of %s: %q, want it to end %q", tt.name, line, tt.end)
		}
	}
}

// BenchmarkNotFound is the 404 page's work for 10,000 routes: picking the
// closest names and rendering.
func BenchmarkNotFound(b *testing.B) {
	infos, names := manyRoutes(10000)
	for _, host := range []string{"ap-04217.localhost", strings.Repeat("a", 243) + ".localhost"} {
		b.Run(fmt.Sprintf("host=%d", len(host)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := notFoundFor(host, infos, names)
				if err := RenderNotFound(io.Discard, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestAccepts(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		{"application/json", true},
		{"Application/JSON", true},
		{"application/json, text/plain, */*", true}, // axios
		{"text/html;q=0.9, application/json;q=0.8", true},
		{"application/json;q=0", false},
		{"application/json;q=0.000", false},
		{"application/json;q=NaN", false},
		{"application/json;q=x", false},
		{"application/jsonx", false},
		{"application/*", false},
		{"*/*", false},
		{"", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://localhost/", nil)
		r.Header.Set("Accept", tt.accept)
		if got := Accepts(r, "application/json"); got != tt.want {
			t.Errorf("Accepts(Accept: %q, application/json) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}
