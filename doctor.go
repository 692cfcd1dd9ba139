package localdev

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/certmagic"
	"github.com/spf13/cobra"

	"github.com/localdev/localdev/internal/adminclient"
	"github.com/localdev/localdev/internal/exposure"
	"github.com/localdev/localdev/internal/routes"
)

// `caddy localdev doctor`: checks that the friendly URLs of the running
// Caddy work for every program on this machine, and says how to fix what
// does not. The checks read the running configuration through the admin
// API, then look at the machine as other programs see it: the OS resolver,
// the system trust store, the apps' ports.

// Statuses of a doctor result, as --json prints them.
const (
	doctorOK   = "ok"
	doctorWarn = "warn"
	doctorFail = "fail"
)

// doctorResult is one line of `caddy localdev doctor`, and one object of
// its --json array.
type doctorResult struct {
	// Check is the check's name: admin, listen, trust, resolve or app.
	Check string `json:"check"`
	// Subject is what was checked: an address, a server, a CA, a name.
	Subject string `json:"subject"`
	// Status is "ok", "warn" or "fail".
	Status string `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail"`
	// Fix is the command or setting that fixes it; empty when ok.
	Fix string `json:"fix"`
}

// Bounds that keep doctor quick with many routes: at most this many
// lookups and dials at once, each with a short timeout.
const doctorAdminTimeout = 5 * time.Second

const (
	doctorResolveTimeout = 2 * time.Second
	doctorDialTimeout    = 500 * time.Millisecond
	doctorExposeTimeout  = 2 * time.Second
	doctorResolveBudget  = 10 * time.Second
	doctorResolveWorkers = 16
	doctorDialWorkers    = 64
)

// errDoctorFailed makes `caddy localdev doctor` exit with status 1 after
// printing its report, without an error message of its own.
var errDoctorFailed = errors.New("localdev doctor: a check failed")

// doctorCommand is `caddy localdev doctor`.
func doctorCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "doctor [--address <addr>] [--json]",
		Short: "Checks that the friendly URLs work on this machine, and says how to fix what does not",
		Long: `
Checks, against the running Caddy's admin API, what makes a friendly URL
work for every program on this machine, one line per check: ok, warn or
FAIL, what was checked, and the command or setting that fixes it.

  admin    the admin API answers and localdev is loaded
  listen   each server with localdev listens on loopback only (or has allow)
  trust    the local CA of sites with 'tls internal' is trusted by the system
  resolve  each route name and index host resolves to loopback only, as
           other programs resolve it (getent ahosts on Linux, the system
           resolver on macOS and Windows)
  app      each route's app answers, and only on loopback

Exits with status 1 when a check fails, 0 otherwise. --json prints an array
of {"check", "subject", "status", "detail", "fix"}, status being "ok",
"warn" or "fail".
`,
		Args: cobra.NoArgs,
	}
	c.Flags().Bool("json", false, "Print the results as a JSON array")
	c.Flags().String("address", "", "Address of Caddy's admin API, if not the one in --config or the default")
	c.Flags().StringP("config", "c", "", "Configuration file to read the admin address from, if --address is not used")
	c.Flags().StringP("adapter", "a", "", "Name of the config adapter for --config")
	c.RunE = func(c *cobra.Command, args []string) error {
		fl := caddycmd.Flags{FlagSet: c.Flags()}
		addr, err := cliAdminAddress(fl)
		if err != nil {
			err = errors.New(terminalSafe(err.Error())) // it may quote a file's content
			return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) { return 1, err })(c, args)
		}
		results := runDoctor(c.Context(), addr)
		if fl.Bool("json") {
			err = writeDoctorJSON(c.OutOrStdout(), results)
		} else {
			err = writeDoctorText(c.OutOrStdout(), results)
		}
		if err != nil {
			return err
		}
		if doctorFailed(results) {
			c.SilenceErrors = true
			return errDoctorFailed
		}
		return nil
	}
	return c
}

// doctorFailed reports whether any result is a failure.
func doctorFailed(results []doctorResult) bool {
	return slices.ContainsFunc(results, func(r doctorResult) bool { return r.Status == doctorFail })
}

// runDoctor runs every check against the Caddy whose admin API is at addr.
func runDoctor(ctx context.Context, addr string) []doctorResult {
	if ctx == nil {
		ctx = context.Background()
	}
	d := &doctor{addr: addr}
	admin := d.gather(ctx)
	if admin.Status == doctorFail {
		out := []doctorResult{admin}
		for _, check := range []string{"listen", "trust", "resolve", "app"} {
			out = append(out, doctorResult{
				Check:   check,
				Subject: "-",
				Status:  doctorWarn,
				Detail:  "skipped: it needs the running configuration, and the admin check failed",
				Fix:     "fix the admin check first",
			})
		}
		return out
	}
	out := []doctorResult{admin}
	out = append(out, d.checkListen()...)
	out = append(out, d.checkTrust(ctx)...)
	out = append(out, d.checkResolve(ctx)...)
	out = append(out, d.checkApps(ctx)...)
	return out
}

// doctor holds what the checks read from the running Caddy.
type doctor struct {
	addr    string
	client  *adminclient.Client
	routes  []routes.Info
	domains []string
	servers map[string]doctorServer
	tls     doctorTLS
	storage struct {
		Module string `json:"module"`
		Root   string `json:"root"`
	}
	httpsPort int
}

// doctorServer is what doctor needs of an HTTP server's configuration.
type doctorServer struct {
	Listen          []string        `json:"listen"`
	Routes          json.RawMessage `json:"routes"`
	TLSConnPolicies json.RawMessage `json:"tls_connection_policies"`
}

// doctorTLS is what doctor needs of the tls app's configuration.
type doctorTLS struct {
	Automation struct {
		Policies []struct {
			Subjects []string `json:"subjects"`
			Issuers  []struct {
				Module string `json:"module"`
				CA     string `json:"ca"`
			} `json:"issuers"`
		} `json:"policies"`
	} `json:"automation"`
}

// withAddress adds --address to a caddy command when doctor was pointed
// at another admin address than the default.
func (d *doctor) withAddress(command string) string {
	if d.addr == "" || d.addr == caddy.DefaultAdminListen {
		return command
	}
	return command + " --address " + d.addr
}

// gather reads routes, domains and configuration from the admin API, and
// returns the admin check's result.
func (d *doctor) gather(ctx context.Context) doctorResult {
	res := doctorResult{Check: "admin", Subject: d.addr}
	ctx, cancel := context.WithTimeout(ctx, doctorAdminTimeout)
	defer cancel()
	start := "start Caddy with localdev: caddy run --config Caddyfile (in this repository: go run ./cmd/caddy run); " +
		"if it runs with another admin address, pass it: caddy localdev doctor --address <admin address>"

	d.client = adminclient.New(d.addr)
	var err error
	d.routes, err = d.client.Routes(ctx)
	if err == nil {
		d.domains, err = d.client.Domains(ctx)
	}
	if adminclient.StatusOf(err) == http.StatusNotFound {
		res.Status, res.Detail = doctorFail, "Caddy answers, but without the localdev module ("+err.Error()+")"
		res.Fix = "run a Caddy built with localdev: go install ./cmd/caddy in this repository, or xcaddy build --with github.com/localdev/localdev"
		return res
	}
	if _, ok := errors.AsType[*adminclient.UnreachableError](err); ok {
		res.Status, res.Detail, res.Fix = doctorFail, "the admin API does not answer: "+err.Error(), start
		return res
	}
	if _, ok := errors.AsType[*adminclient.APIError](err); ok {
		res.Status, res.Detail, res.Fix = doctorFail, "the admin API answers with an error: "+err.Error(), start
		return res
	}
	if err != nil {
		res.Status, res.Detail, res.Fix = doctorFail, "cannot ask the admin API: "+err.Error(), start
		return res
	}
	d.servers = map[string]doctorServer{}
	if err := d.getJSON(ctx, "/config/apps/http/servers", &d.servers); err != nil {
		res.Status, res.Detail, res.Fix = doctorFail, "reading the HTTP servers' configuration: "+err.Error(), start
		return res
	}
	d.httpsPort = caddyhttp.DefaultHTTPSPort
	if err := d.getJSON(ctx, "/config/apps/http/https_port", &d.httpsPort); err != nil || d.httpsPort == 0 {
		d.httpsPort = caddyhttp.DefaultHTTPSPort
	}
	_ = d.getJSON(ctx, "/config/apps/tls", &d.tls)    // none: no policies
	_ = d.getJSON(ctx, "/config/storage", &d.storage) // none: the default folder
	if len(d.domains) == 0 {
		res.Status, res.Detail = doctorFail, "Caddy answers, but no localdev handler is loaded"
		res.Fix = "add a site with a localdev block to the Caddyfile (see the repository's example Caddyfile), then caddy reload"
		return res
	}
	res.Status = doctorOK
	res.Detail = fmt.Sprintf("answers; localdev is loaded with %d %s under %s", len(d.routes), plural(len(d.routes), "route", "routes"), strings.Join(d.domains, ", "))
	return res
}

// getJSON decodes the admin API's answer to GET path into v; a missing
// key (null) leaves v as it is.
func (d *doctor) getJSON(ctx context.Context, path string, v any) error {
	return d.client.Do(ctx, http.MethodGet, path, nil, nil, v)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// doctorHandler is what doctor needs of a localdev handler's configuration.
type doctorHandler struct {
	Domain string   `json:"domain"`
	Allow  []string `json:"allow"`
}

// localdevHandlersJSON finds the localdev handlers in a server's routes,
// subroutes and other nesting included.
func localdevHandlersJSON(raw json.RawMessage) []doctorHandler {
	var tree any
	if len(raw) == 0 || json.Unmarshal(raw, &tree) != nil {
		return nil
	}
	var out []doctorHandler
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "localdev" {
				h := doctorHandler{Domain: routes.DefaultDomain}
				if d, ok := v["domain"].(string); ok && d != "" {
					if norm, err := routes.NormalizeDomain(d); err == nil {
						h.Domain = norm
					}
				}
				if list, ok := v["allow"].([]any); ok {
					for _, a := range list {
						if s, ok := a.(string); ok {
							h.Allow = append(h.Allow, s)
						}
					}
				}
				out = append(out, h)
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(tree)
	return out
}

// ---------------------------------------------------------------------
// listen
// ---------------------------------------------------------------------

// checkListen warns about each server with localdev that listens beyond
// loopback while one of its localdev handlers admits no other clients.
func (d *doctor) checkListen() []doctorResult {
	var out []doctorResult
	for _, name := range slices.Sorted(maps.Keys(d.servers)) {
		srv := d.servers[name]
		handlers := localdevHandlersJSON(srv.Routes)
		if len(handlers) == 0 {
			continue
		}
		res := doctorResult{Check: "listen", Subject: name + " (" + strings.Join(srv.Listen, " ") + ")"}
		var open []string
		for _, l := range srv.Listen {
			if !listenLoopback(l) {
				open = append(open, l)
			}
		}
		if len(srv.Listen) == 0 {
			open = append(open, "every interface (no listen address)")
		}
		var withoutAllow []string
		for _, h := range handlers {
			if !slices.ContainsFunc(h.Allow, func(a string) bool { return a != "unix" }) {
				withoutAllow = append(withoutAllow, h.Domain)
			}
		}
		slices.Sort(withoutAllow)
		withoutAllow = slices.Compact(withoutAllow)
		switch {
		case len(open) == 0:
			res.Status, res.Detail = doctorOK, "listens on loopback only"
		case len(withoutAllow) == 0:
			res.Status, res.Detail = doctorOK, "listens on "+strings.Join(open, " ")+", beyond loopback, for the clients its allow ranges admit"
		default:
			res.Status = doctorWarn
			res.Detail = "listens on " + strings.Join(open, " ") + ", beyond loopback, though its localdev handler for " +
				strings.Join(withoutAllow, ", ") + " admits loopback clients only (no allow): other machines reach the listener and get 403"
			res.Fix = "bind 127.0.0.1 ::1 in the site block (JSON: listen addresses on 127.0.0.1 and [::1]), or allow the ranges that should get in"
		}
		out = append(out, res)
	}
	return out
}

// listenLoopback reports whether a server's listen address is on loopback
// (or a Unix socket, which is local too).
func listenLoopback(listen string) bool {
	na, err := caddy.ParseNetworkAddress(listen)
	if err != nil {
		return false
	}
	if na.IsUnixNetwork() || na.IsFdNetwork() {
		return true
	}
	if strings.EqualFold(na.Host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(na.Host, "[]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// ---------------------------------------------------------------------
// trust
// ---------------------------------------------------------------------

// checkTrust checks that the root of each internal CA a site uses is
// trusted by the system store, and says where Firefox's store cannot be
// checked.
func (d *doctor) checkTrust(ctx context.Context) []doctorResult {
	cas := d.internalCAs()
	if len(cas) == 0 {
		return []doctorResult{{Check: "trust", Subject: "local CA", Status: doctorOK,
			Detail: "no localdev site uses Caddy's internal CA (tls internal); nothing to trust"}}
	}
	var out []doctorResult
	for _, id := range cas {
		fix := d.withAddress("caddy trust")
		if id != "local" {
			fix += " --ca " + id
		}
		subject := "CA " + id
		root, where, err := d.caRoot(ctx, id)
		if err != nil {
			out = append(out, doctorResult{Check: "trust", Subject: subject, Status: doctorWarn,
				Detail: "cannot read the root certificate of Caddy's internal CA " + id + ": " + err.Error(),
				Fix:    fix + " (it reads the root from the running Caddy and installs it)"})
			continue
		}
		subject = "CA " + id + " (" + root.Subject.CommonName + ")"
		if systemTrusts(root) {
			out = append(out, doctorResult{Check: "trust", Subject: subject, Status: doctorOK,
				Detail: "the system trust store trusts its root (" + where + ")"})
		} else {
			out = append(out, doctorResult{Check: "trust", Subject: subject, Status: doctorFail,
				Detail: "the system trust store does not trust its root (" + where + "): browsers and programs reject the localdev sites' certificates",
				Fix:    fix + " (needs a caddy on the PATH: go install ./cmd/caddy in this repository)"})
		}
		out = append(out, firefoxTrust(ctx, subject, root, fix)...)
	}
	return out
}

// internalCAs lists the IDs of the internal CAs whose certificates
// localdev sites get: those of issuers "internal" in the tls app's
// automation policies, and Caddy's default CA "local" when a localdev
// domain is served over HTTPS but cannot get a public certificate (Caddy's
// automatic HTTPS then uses its internal issuer).
func (d *doctor) internalCAs() []string {
	var ids []string
	for _, p := range d.tls.Automation.Policies {
		for _, iss := range p.Issuers {
			if iss.Module != "internal" {
				continue
			}
			id := iss.CA
			if id == "" {
				id = "local"
			}
			ids = append(ids, id)
		}
	}
	if d.servesInternalHTTPS() {
		ids = append(ids, "local")
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// servesInternalHTTPS reports whether a localdev name is served over HTTPS
// while it cannot have a public certificate.
func (d *doctor) servesInternalHTTPS() bool {
	for _, r := range d.routes {
		host := strings.TrimPrefix(r.Name, "*.")
		if strings.HasPrefix(r.URL, "https://") && !certmagic.SubjectQualifiesForPublicCert(host) {
			return true
		}
	}
	for _, srv := range d.servers {
		handlers := localdevHandlersJSON(srv.Routes)
		if len(handlers) == 0 || !d.serverTLS(srv) {
			continue
		}
		for _, h := range handlers {
			if !certmagic.SubjectQualifiesForPublicCert(h.Domain) {
				return true
			}
		}
	}
	return false
}

// serverTLS reports whether a server speaks TLS: it has connection
// policies, or listens on the HTTPS port (automatic HTTPS adds them).
func (d *doctor) serverTLS(srv doctorServer) bool {
	if len(srv.TLSConnPolicies) > 0 && string(srv.TLSConnPolicies) != "null" {
		return true
	}
	for _, l := range srv.Listen {
		na, err := caddy.ParseNetworkAddress(l)
		if err == nil && !na.IsUnixNetwork() && int(na.StartPort) <= d.httpsPort && d.httpsPort <= int(na.EndPort) {
			return true
		}
	}
	return false
}

// caRoot returns the root certificate of the internal CA id: from the
// running Caddy's PKI admin API (what `caddy trust` installs), else from
// the storage of the running configuration.
func (d *doctor) caRoot(ctx context.Context, id string) (*x509.Certificate, string, error) {
	var ca struct {
		Root string `json:"root_certificate"`
	}
	apiErr := d.getJSON(ctx, "/pki/ca/"+id, &ca)
	if apiErr == nil && ca.Root != "" {
		cert, err := parsePEMCert([]byte(ca.Root))
		if err == nil {
			return cert, "read from the admin API", nil
		}
		apiErr = err
	}
	// The file where Caddy's file storage keeps it.
	if d.storage.Module != "" && d.storage.Module != "file_system" {
		return nil, "", fmt.Errorf("the admin API gave no root (%v), and the storage module %q is not a folder doctor can read", apiErr, d.storage.Module)
	}
	dir := d.storage.Root
	if dir == "" {
		dir = caddy.AppDataDir()
	}
	path := filepath.Join(dir, "pki", "authorities", id, "root.crt")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("the admin API gave no root (%v), and %v", apiErr, err)
	}
	cert, err := parsePEMCert(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %v", path, err)
	}
	return cert, path, nil
}

func parsePEMCert(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// systemTrusts reports whether the system trust store trusts root, as
// Caddy itself decides before `caddy trust` installs it: on macOS and
// Windows Go asks the platform's verifier, elsewhere it reads the system
// bundle (SSL_CERT_FILE and SSL_CERT_DIR are honoured).
func systemTrusts(root *x509.Certificate) bool {
	chains, err := root.Verify(x509.VerifyOptions{})
	return err == nil && len(chains) > 0
}

// firefoxProfileGlobs are where Firefox keeps its profiles on this system.
func firefoxProfileGlobs() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	switch runtime.GOOS {
	case "darwin":
		return []string{filepath.Join(home, "Library", "Application Support", "Firefox", "Profiles", "*")}
	case "windows":
		return []string{filepath.Join(os.Getenv("APPDATA"), "Mozilla", "Firefox", "Profiles", "*")}
	}
	return []string{
		filepath.Join(home, ".mozilla", "firefox", "*"),
		filepath.Join(home, "snap", "firefox", "common", ".mozilla", "firefox", "*"),
		filepath.Join(home, ".var", "app", "org.mozilla.firefox", ".mozilla", "firefox", "*"),
	}
}

// firefoxProfiles lists Firefox profile folders with an NSS certificate
// database, where Firefox keeps its own trust store.
func firefoxProfiles() []string {
	globs := firefoxProfileGlobs()
	var out []string
	for _, g := range globs {
		matches, _ := filepath.Glob(g)
		for _, m := range matches {
			if _, err := os.Stat(filepath.Join(m, "cert9.db")); err == nil {
				out = append(out, m)
			}
		}
	}
	return out
}

// firefoxTrust checks Firefox's profiles for root with certutil, under the
// nickname `caddy trust` gives it; a profile it cannot check is a warning.
func firefoxTrust(ctx context.Context, subject string, root *x509.Certificate, fix string) []doctorResult {
	profiles := firefoxProfiles()
	if len(profiles) == 0 {
		return nil
	}
	subject += " in Firefox"
	if runtime.GOOS == "windows" {
		// Windows' own certutil.exe is another program than NSS's.
		return []doctorResult{{Check: "trust", Subject: subject, Status: doctorWarn,
			Detail: "Firefox keeps its own trust store (" + strings.Join(profiles, ", ") + "), which doctor cannot check on Windows",
			Fix:    "in Firefox's about:config, set security.enterprise_roots.enabled to true, so that it trusts what the system store trusts"}}
	}
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		return []doctorResult{{Check: "trust", Subject: subject, Status: doctorWarn,
			Detail: "Firefox keeps its own trust store (" + strings.Join(profiles, ", ") + "), which cannot be checked without NSS's certutil",
			Fix: "install certutil (Debian, Ubuntu: sudo apt install libnss3-tools; Fedora: sudo dnf install nss-tools; macOS: brew install nss), then " +
				fix + ", which adds the root to Firefox too"}}
	}
	// caddy trust (smallstep's truststore) names the root "<CN> <serial>".
	nick := root.Subject.CommonName + " " + root.SerialNumber.String()
	var missing []string
	for _, p := range profiles {
		ctx, cancel := context.WithTimeout(ctx, doctorResolveTimeout)
		err := exec.CommandContext(ctx, certutil, "-V", "-d", "sql:"+p, "-u", "L", "-n", nick).Run()
		cancel()
		if err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return []doctorResult{{Check: "trust", Subject: subject, Status: doctorOK,
			Detail: "every Firefox profile trusts the root"}}
	}
	return []doctorResult{{Check: "trust", Subject: subject, Status: doctorWarn,
		Detail: "Firefox's own trust store does not trust the root in " + strings.Join(missing, ", "),
		Fix:    fix + " (with certutil installed it adds the root to Firefox's profiles; restart Firefox)"}}
}

// ---------------------------------------------------------------------
// resolve
// ---------------------------------------------------------------------

// checkResolve resolves every exact route name and each domain's index
// host as other programs on this machine do, and fails those that do not
// resolve to loopback only. A wildcard route is checked through one name
// under it, and warns, since the hosts file cannot list it.
func (d *doctor) checkResolve(ctx context.Context) []doctorResult {
	type job struct {
		subject, name string
		wildcard      bool
	}
	var jobs []job
	seen := map[string]bool{}
	for _, dom := range d.domains {
		if !seen[dom] {
			seen[dom] = true
			jobs = append(jobs, job{subject: dom, name: dom})
		}
	}
	for _, r := range d.routes {
		if seen[r.Name] {
			continue
		}
		seen[r.Name] = true
		if rest, ok := strings.CutPrefix(r.Name, "*."); ok {
			jobs = append(jobs, job{subject: r.Name, name: "localdev-doctor." + rest, wildcard: true})
			continue
		}
		jobs = append(jobs, job{subject: r.Name, name: r.Name})
	}
	// A slow resolver (a DNS server that drops queries for names it does
	// not know) must not make doctor take minutes with many routes: the
	// lookups share a budget, and names not looked up within it say so.
	budget, stop := context.WithTimeout(ctx, doctorResolveBudget)
	defer stop()
	out := make([]doctorResult, len(jobs))
	bounded(len(jobs), doctorResolveWorkers, func(i int) {
		j := jobs[i]
		res := doctorResult{Check: "resolve", Subject: j.subject}
		if budget.Err() != nil && ctx.Err() == nil {
			res.Status = doctorWarn
			res.Detail = fmt.Sprintf("not checked: the lookups of other names used up doctor's %v for lookups, so the resolver answers slowly", doctorResolveBudget)
			res.Fix = "check it by hand: " + resolveByHand(j.name)
			out[i] = res
			return
		}
		lctx, cancel := context.WithTimeout(budget, doctorResolveTimeout)
		addrs, how, err := osResolve(lctx, j.name)
		cancel()
		what := j.name
		if j.wildcard {
			what = j.name + " (a name under the wildcard)"
		}
		var others []string
		for _, a := range addrs {
			if !a.Unmap().IsLoopback() {
				others = append(others, a.String())
			}
		}
		switch {
		case err != nil:
			res.Status = doctorFail
			res.Detail = what + " does not resolve (" + how + ": " + err.Error() + "): programs other than browsers and curl cannot reach it"
			res.Fix = d.resolveFix(j.name, j.wildcard)
		case len(others) > 0:
			res.Status = doctorFail
			res.Detail = what + " resolves to " + joinAddrs(addrs) + " (" + how + "), not only to loopback"
			res.Fix = "remove the entry that maps " + j.name + " elsewhere (hosts file or DNS), then " + d.resolveFix(j.name, j.wildcard)
		default:
			res.Status = doctorOK
			res.Detail = what + " resolves to " + joinAddrs(addrs) + " (" + how + ")"
		}
		if j.wildcard && res.Status == doctorFail {
			res.Status = doctorWarn // the hosts file cannot list every name under it
		}
		out[i] = res
	})
	return out
}

// resolveFix is what makes name resolve to loopback on this system.
func (d *doctor) resolveFix(name string, wildcard bool) string {
	sync := d.withAddress(hostsSyncCommand) + " (after each route change), or the hosts option in the localdev block, which keeps the hosts file in step"
	if wildcard {
		sync = "a hosts file cannot list every name under a wildcard: route the names you use and run " + d.withAddress(hostsSyncCommand)
	}
	if nss := nssMyhostnameFix; nss != "" && routes.InDomain(name, routes.DefaultDomain) {
		return sync + "; or " + nss
	}
	return sync
}

// joinAddrs lists addresses IPv4 first, in order.
func joinAddrs(addrs []netip.Addr) string {
	addrs = slices.Clone(addrs)
	slices.SortFunc(addrs, netip.Addr.Compare)
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// ---------------------------------------------------------------------
// app
// ---------------------------------------------------------------------

// appProbe is what doctor found at one target.
type appProbe struct {
	answered []string         // the dial addresses that accepted a connection
	exposed  []netip.AddrPort // non-loopback addresses where the port is open too
	err      error            // the target is not valid
}

// checkApps dials each route's app, on each loopback family its target
// names, and checks that its port is not open beyond loopback.
func (d *doctor) checkApps(ctx context.Context) []doctorResult {
	targets := make([]string, 0, len(d.routes))
	for _, r := range d.routes {
		targets = append(targets, r.Target)
	}
	slices.Sort(targets)
	targets = slices.Compact(targets)
	probes := make([]appProbe, len(targets))
	bounded(len(targets), doctorDialWorkers, func(i int) {
		probes[i] = probeApp(ctx, targets[i])
	})
	byTarget := make(map[string]appProbe, len(targets))
	for i, t := range targets {
		byTarget[t] = probes[i]
	}
	out := make([]doctorResult, 0, len(d.routes))
	for _, r := range d.routes {
		out = append(out, d.appResult(r, byTarget[r.Target]))
	}
	return out
}

// probeApp dials every address of target, and for a TCP target that
// answers asks whether its port is open beyond loopback too.
func probeApp(ctx context.Context, target string) appProbe {
	t, err := routes.ParseTarget(target)
	if err != nil {
		return appProbe{err: err}
	}
	var p appProbe
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, addr := range t.Dials {
		wg.Go(func() {
			network, address := "tcp", addr
			if path, ok := strings.CutPrefix(addr, "unix/"); ok {
				network, address = "unix", path
			}
			dctx, cancel := context.WithTimeout(ctx, doctorDialTimeout)
			defer cancel()
			var dialer net.Dialer
			conn, err := dialer.DialContext(dctx, network, address)
			if err != nil {
				return
			}
			_ = conn.Close()
			mu.Lock()
			p.answered = append(p.answered, addr)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(p.answered)
	if len(p.answered) > 0 && !t.Unix() {
		ectx, cancel := context.WithTimeout(ctx, doctorExposeTimeout)
		p.exposed, _ = exposure.Check(ectx, t.Port)
		cancel()
	}
	return p
}

// appResult turns a probe into the app check's result for route r.
func (d *doctor) appResult(r routes.Info, p appProbe) doctorResult {
	res := doctorResult{Check: "app", Subject: r.Name + " -> " + r.Target}
	t, err := routes.ParseTarget(r.Target)
	if err == nil {
		err = p.err
	}
	if err != nil {
		res.Status, res.Detail = doctorFail, "the target is not valid: "+err.Error()
		res.Fix = "give the route a valid target (a port such as 5173, 127.0.0.1:3000, [::1]:4000 or unix//path/app.sock)"
		return res
	}
	where := strings.Join(t.Dials, " or ")
	if len(p.answered) == 0 {
		res.Status = doctorFail
		res.Detail = "nothing answers on " + where
		if t.Unix() {
			res.Fix = "start the app listening on the socket " + strings.TrimPrefix(t.Dials[0], "unix/")
		} else {
			res.Fix = fmt.Sprintf("start the app listening on %s (most dev servers take PORT=%d, or a --port flag)", where, t.Port)
		}
		return res
	}
	res.Detail = "answers on " + strings.Join(p.answered, " and ")
	if t.BothFamilies() && len(p.answered) == 1 {
		family := "IPv4"
		if strings.HasPrefix(p.answered[0], "[") {
			family = "IPv6"
		}
		res.Detail += " only (" + family + "), which is fine: localdev tries both"
	}
	if len(p.exposed) > 0 {
		open := make([]string, len(p.exposed))
		for i, a := range p.exposed {
			open[i] = a.String()
		}
		res.Status = doctorWarn
		res.Detail = fmt.Sprintf("exposed: port %d is also open on %s, so anyone on your network reaches the app directly, around localdev's client check (%s)",
			t.Port, strings.Join(open, ", "), res.Detail)
		res.Fix = "bind it to 127.0.0.1: start it with HOST=127.0.0.1 or its host flag (vite --host 127.0.0.1, next dev --hostname 127.0.0.1, rails s -b 127.0.0.1)"
		return res
	}
	res.Status = doctorOK
	return res
}

// bounded calls f(0) … f(n-1) on at most workers goroutines at once.
func bounded(n, workers int, f func(i int)) {
	if n < workers {
		workers = n
	}
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= n {
					return
				}
				f(j)
			}
		})
	}
	wg.Wait()
}

// ---------------------------------------------------------------------
// output
// ---------------------------------------------------------------------

// writeDoctorText writes one line per result: status, check, subject,
// detail, and the fix of every result that is not ok.
func writeDoctorText(w io.Writer, results []doctorResult) error {
	var b strings.Builder
	for _, r := range results {
		status := r.Status
		if status == doctorFail {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "%-4s  %-7s  %s: %s", status, r.Check, terminalSafe(r.Subject), terminalSafe(r.Detail))
		if r.Status != doctorOK && r.Fix != "" {
			b.WriteString(" -- fix: ")
			b.WriteString(terminalSafe(r.Fix))
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeDoctorJSON writes the results as a JSON array, safe on a terminal.
func writeDoctorJSON(w io.Writer, results []doctorResult) error {
	if results == nil {
		results = []doctorResult{}
	}
	return writeTerminalJSON(w, results)
}
