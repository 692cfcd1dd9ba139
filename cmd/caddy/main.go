// Command caddy is Caddy with its standard modules and localdev.
package main

import (
	_ "github.com/localdev/localdev/internal/xconnect" // first: sets GODEBUG before net/http starts

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/localdev/localdev"
)

func main() {
	caddycmd.Main()
}
