// Package xconnect turns on HTTP/2 extended CONNECT (RFC 8441) in Go's
// HTTP server, so browsers can open WebSockets over HTTP/2 through Caddy.
// Go reads the setting (GODEBUG=http2xconnect=1) when net/http starts, so
// this package must not import net/http and must be imported by main
// before anything that does; Go initialises packages in import-path
// order among those whose dependencies are ready, and this one needs only
// os. Builds with xcaddy can set GODEBUG=http2xconnect=1 in the
// environment instead.
package xconnect

import (
	"os"
	"strings"
)

func init() {
	const setting = "http2xconnect=1"
	current := os.Getenv("GODEBUG")
	if strings.Contains(current, "http2xconnect=") {
		return
	}
	if current != "" {
		current += ","
	}
	_ = os.Setenv("GODEBUG", current+setting)
}
