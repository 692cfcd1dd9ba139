// Package loopback holds how localdev's embedded reverse proxy talks to
// apps on this machine: Caddy's HTTP transport with settings chosen for
// loopback rather than for remote backends. The benchmark gives the same
// settings to a stock Caddy, so that users can see what they are worth on
// their own.
package loopback

import (
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// IdleConnsPerApp is how many idle keep-alive connections to one app the
// proxy keeps. Caddy's default, 32, is tuned for remote backends. A
// browser loading a page from a dev server that serves unbundled modules
// sends hundreds of requests at once over one HTTP/2 connection (Caddy
// allows 250 streams on one), each of which becomes a request on its own
// connection to the app; every connection over the limit is closed after
// its response and dialed again for the next page load. 256 keeps one
// such connection's worth. An idle loopback connection costs a few KiB
// and nothing on the network.
const IdleConnsPerApp = 256

// Transport returns the HTTP transport settings for loopback apps:
//
//   - a keep-alive pool sized for concurrency (IdleConnsPerApp), so that
//     connections are reused rather than closed and dialed again;
//   - no transparent compression: Go's transport would otherwise ask the
//     app for gzip on behalf of a client that did not, and unzip the answer
//     again, spending CPU twice on a link that does not need it (the
//     client's own Accept-Encoding still reaches the app).
func Transport() *reverseproxy.HTTPTransport {
	compression := false
	return &reverseproxy.HTTPTransport{
		KeepAlive:   &reverseproxy.KeepAlive{MaxIdleConnsPerHost: IdleConnsPerApp},
		Compression: &compression,
	}
}
