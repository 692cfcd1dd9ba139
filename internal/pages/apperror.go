package pages

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// AppError is the page for an app that took the request and failed
// before answering: it accepted the connection, then closed or reset it,
// or did not send its response headers in time. localdev does not send
// such a request again, so the page says so: a form or an API call was
// not repeated behind the user's back.
type AppError struct {
	Name   string // "app.localhost"
	Target string // as written
	Port   string // "62893", or "" for a unix socket
	Status int    // 502, or 504 when the app did not answer in time
	Error  string // short error, e.g. "EOF" or "connection reset by peer"
	// NotTLS: the route says https://, but what answered the TLS handshake
	// was not TLS (an app serving plain HTTP); the request was not sent.
	NotTLS bool
}

var appErrorTmpl = parsePage("apperror.html")

// appErrorView is what apperror.html sees.
type appErrorView struct {
	AppError
	TimedOut bool
}

// RenderAppError writes the HTML page for an app that failed mid-request.
// Unlike the page for an app that is down, it does not reload itself:
// reloading would send the request again.
func RenderAppError(w io.Writer, d AppError) error {
	v := appErrorView{AppError: d, TimedOut: d.Status == http.StatusGatewayTimeout}
	return render(w, appErrorTmpl, v)
}

// RenderAppErrorText writes the plain-text form of the page.
func RenderAppErrorText(w io.Writer, d AppError) error {
	var b strings.Builder
	where := clean(d.Target)
	if d.Port != "" {
		where = "port " + clean(d.Port)
	}
	if d.NotTLS {
		fmt.Fprintf(&b, "localdev: %s: the route says https://, but the app on %s does not speak TLS (%s)\n", clean(d.Name), where, clean(d.Error))
		b.WriteString("the request was not sent; drop https:// from the route's target, or serve HTTPS from the app\n")
		return writeString(w, b.String())
	}
	if d.Status == http.StatusGatewayTimeout {
		fmt.Fprintf(&b, "localdev: %s: the app on %s took the request but did not answer in time", clean(d.Name), where)
	} else {
		fmt.Fprintf(&b, "localdev: %s: the app on %s took the request, then closed the connection without answering", clean(d.Name), where)
	}
	if d.Error != "" {
		b.WriteString(" (" + clean(d.Error) + ")")
	}
	b.WriteString("\nthe request was not sent again; the app's own output says what went wrong\n")
	return writeString(w, b.String())
}
