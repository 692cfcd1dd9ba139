package pages

// Listener is a server that answers HTTP on this machine but has no
// route, as the dashboard's "Listening without a name" section shows it.
type Listener struct {
	Address string // "127.0.0.1:62893"
	Port    int
	PID     int32  // 0 when unknown
	Process string // process name, "" when unknown
	Cwd     string // working folder; "" when unknown or not for this client's eyes
	Title   string // the page's <title>, may be ""
	Name    string // proposed route name, e.g. "web"
	Add     string // the command that adds it: "caddy localdev add web 62893"
	Exposed bool   // it listens beyond loopback: reachable from the network
}
