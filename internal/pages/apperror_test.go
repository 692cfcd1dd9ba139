package pages

import (
	"strings"
	"testing"
)

// TestAppErrorPage: the page names the app and its port, says the request
// was not sent again, escapes what it shows, and never reloads itself.
func TestAppErrorPage(t *testing.T) {
	d := AppError{Name: "app.localhost", Target: "62893", Port: "62893", Status: 502, Error: "EOF <b>"}
	var html, text strings.Builder
	if err := RenderAppError(&html, d); err != nil {
		t.Fatal(err)
	}
	if err := RenderAppErrorText(&text, d); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"app.localhost", "62893", "did not send the request again", "EOF &lt;b&gt;", "502 · app failed"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(html.String(), "location.reload") || strings.Contains(html.String(), "<b>") {
		t.Error("the page reloads itself or carries raw markup")
	}
	if got := text.String(); !strings.Contains(got, "took the request, then closed the connection") || !strings.Contains(got, "not sent again") {
		t.Errorf("text: %q", got)
	}
	d.Status, d.Error = 504, "timeout\x1b[2J"
	text.Reset()
	_ = RenderAppErrorText(&text, d)
	if got := text.String(); !strings.Contains(got, "did not answer in time") || strings.Contains(got, "\x1b") {
		t.Errorf("504 text: %q", got)
	}
}

// TestLoopPageChain: a loop through other routes names the chain; a
// route to Caddy itself keeps its own explanation.
func TestLoopPageChain(t *testing.T) {
	var html, text strings.Builder
	d := Loop{Name: "a.localhost", Target: "5173", Via: []string{"a.localhost", "b.localhost"}}
	_ = RenderLoop(&html, d)
	_ = RenderLoopText(&text, d)
	if !strings.Contains(html.String(), "came back to it") || !strings.Contains(text.String(), "a.localhost -> b.localhost -> a.localhost") {
		t.Errorf("chain:\n%s\n%s", html.String(), text.String())
	}
	html.Reset()
	_ = RenderLoop(&html, Loop{Name: "self.localhost", Target: "8080", Via: []string{"self.localhost"}})
	if !strings.Contains(html.String(), "points back at localdev") {
		t.Errorf("self loop: %s", html.String())
	}
}

// TestAppErrorNotTLS: the page for an https:// route to a plain app says
// what to change.
func TestAppErrorNotTLS(t *testing.T) {
	var html strings.Builder
	if err := RenderAppError(&html, AppError{Name: "app.localhost", Target: "https://5173", Port: "5173", Status: 502, NotTLS: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), "is not an HTTPS app") || !strings.Contains(html.String(), "Drop <code>https://</code>") {
		t.Errorf("HTML: %s", html.String())
	}
}
