package localdev

// Tests of "Live routes, no reloads": route folders, the admin API,
// concurrent writers, WebSockets through route churn and reloads, and
// certificates for runtime routes. Everything here is real: Caddy in this
// process, apps on loopback, files in temporary folders, WebSockets.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/localdev/localdev/internal/routes"
)

// liveAdminURL is caddytest's admin endpoint.
func liveAdminURL() string { return "http://localhost:" + adminP }

// liveAdmin talks to the admin API; it keeps connections alive so that
// hundreds of API calls stay quick.
var liveAdmin = &http.Client{Timeout: 30 * time.Second}

// liveResp is an admin API answer.
type liveResp struct {
	status int
	body   string
	header http.Header
}

func (r liveResp) String() string { return fmt.Sprintf("%d %s", r.status, strings.TrimSpace(r.body)) }

// liveAPIDo sends one request to the admin API; header pairs are
// "Name: value". Safe to call from any goroutine.
func liveAPIDo(method, path, body string, headers ...string) (liveResp, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, liveAdminURL()+path, rd)
	if err != nil {
		return liveResp{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	res, err := liveAdmin.Do(req)
	if err != nil {
		return liveResp{}, fmt.Errorf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return liveResp{}, fmt.Errorf("%s %s: reading body: %v", method, path, err)
	}
	return liveResp{status: res.StatusCode, body: string(b), header: res.Header}, nil
}

func liveAPI(t testing.TB, method, path, body string, headers ...string) liveResp {
	t.Helper()
	res, err := liveAPIDo(method, path, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// livePut adds or replaces an API route and expects status.
func livePut(t testing.TB, name, target string, status int, headers ...string) routes.Info {
	t.Helper()
	res := liveAPI(t, "PUT", "/localdev/routes/"+name, fmt.Sprintf(`{"target": %q}`, target), headers...)
	if res.status != status {
		t.Fatalf("PUT %s %s: %s; want %d", name, target, res, status)
	}
	var r routes.Info
	if err := json.Unmarshal([]byte(res.body), &r); err != nil {
		t.Fatalf("PUT %s: body %q is not a route object: %v", name, res.body, err)
	}
	return r
}

// liveForget deletes API routes when the test ends: API routes outlive
// configuration loads, and tests share one Caddy.
func liveForget(t testing.TB, names ...string) {
	t.Cleanup(func() {
		for _, name := range names {
			res, err := liveAPIDo("DELETE", "/localdev/routes/"+name, "")
			if err != nil {
				t.Errorf("cleanup: %v", err)
				continue
			}
			if res.status != http.StatusNoContent && res.status != http.StatusNotFound && res.status != http.StatusConflict {
				t.Errorf("cleanup: DELETE %s: %s", name, res)
			}
		}
	})
}

// liveList returns GET /localdev/routes by name.
func liveList(t testing.TB) map[string]routes.Info {
	t.Helper()
	list, err := liveListDo()
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func liveListDo() (map[string]routes.Info, error) {
	res, err := liveAPIDo("GET", "/localdev/routes", "")
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		return nil, fmt.Errorf("GET /localdev/routes: %s (%s)", res, res.header.Get("Content-Type"))
	}
	var list []routes.Info
	if err := json.Unmarshal([]byte(res.body), &list); err != nil {
		return nil, fmt.Errorf("GET /localdev/routes: %v in %q", err, res.body)
	}
	byName := make(map[string]routes.Info, len(list))
	for _, r := range list {
		if _, dup := byName[r.Name]; dup {
			return nil, fmt.Errorf("GET /localdev/routes lists %s twice: %s", r.Name, res.body)
		}
		byName[r.Name] = r
	}
	return byName, nil
}

// liveWantError checks an error answer: its status, and a JSON body whose
// "error" message mentions every one of mentions.
func liveWantError(t testing.TB, what string, res liveResp, status int, mentions ...string) {
	t.Helper()
	if res.status != status {
		t.Errorf("%s: %s; want %d", what, res, status)
		return
	}
	var body struct {
		Error string `json:"error"`
	}
	if !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", what, res.header.Get("Content-Type"))
	}
	if err := json.Unmarshal([]byte(res.body), &body); err != nil || body.Error == "" {
		t.Errorf("%s: body %q is not JSON with an \"error\" message (%v)", what, res.body, err)
		return
	}
	for _, m := range mentions {
		if !strings.Contains(body.Error, m) {
			t.Errorf("%s: error %q does not mention %q", what, body.Error, m)
		}
	}
}

// liveGet requests host through Caddy's plain-HTTP site and returns the
// status and the answering app (X-App). Safe to call from any goroutine.
func liveGet(client *http.Client, host string) (int, string, error) {
	res, err := client.Get(httpURL(host, "/"))
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header.Get("X-App"), nil
}

// liveServes checks that host is proxied to app (status 200), or, with
// app "", that host is unknown (404).
func liveServes(client *http.Client, host, app string) error {
	status, got, err := liveGet(client, host)
	if err != nil {
		return err
	}
	want := 200
	if app == "" {
		want = 404
	}
	if status != want || got != app {
		return fmt.Errorf("%s: status %d from app %q; want %d from %q", host, status, got, want, app)
	}
	return nil
}

// liveWaitServes polls until host is proxied to app (or, with app "", is
// unknown).
func liveWaitServes(t testing.TB, client *http.Client, within time.Duration, host, app string) {
	t.Helper()
	what := fmt.Sprintf("%s served by %q", host, app)
	if app == "" {
		what = host + " gone (404)"
	}
	eventually(t, within, what, func() error { return liveServes(client, host, app) })
}

// liveWSApp is an app that echoes WebSocket messages on /ws and names
// itself (X-App) on every other path.
func liveWSApp(t testing.TB, name string) int {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", echoWebSocketAs(name+": "))
	mux.Handle("/", hello(name))
	return startApp(t, "127.0.0.1:0", mux)
}

// liveDialWS opens a WebSocket to host's /ws through Caddy.
func liveDialWS(t testing.TB, host string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, httpURL(host, "/ws"), &websocket.DialOptions{HTTPClient: testClient("127.0.0.1")})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("WebSocket to %s: status %d: %v", host, status, err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// liveEcho sends msg and expects the app's echo on the same connection.
func liveEcho(t testing.TB, c *websocket.Conn, app, msg string) {
	t.Helper()
	if err := liveEchoDo(c, app, msg); err != nil {
		t.Fatal(err)
	}
}

func liveEchoDo(c *websocket.Conn, app, msg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return fmt.Errorf("write %q: %v", msg, err)
	}
	_, got, err := c.Read(ctx)
	if want := app + ": " + msg; err != nil || string(got) != want {
		return fmt.Errorf("echo of %q: %q, %v; want %q", msg, got, err, want)
	}
	return nil
}

// liveLoad posts a Caddyfile to the admin endpoint's /load, as `caddy
// reload` does (force: as `caddy reload --force`, which reloads even an
// unchanged configuration).
func liveLoad(t testing.TB, caddyfile string, force bool) {
	t.Helper()
	req, err := http.NewRequest("POST", liveAdminURL()+"/load", strings.NewReader(caddyfile))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	if force {
		req.Header.Set("Cache-Control", "must-revalidate")
	}
	res, err := liveAdmin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /load: %d %s", res.StatusCode, body)
	}
}

// liveSiteWithLog is httpSite with Caddy's log written to logFile.
func liveSiteWithLog(logFile, body string) string {
	return "{" + globals + "\tlog {\n\t\toutput file " + logFile + "\n\t}\n}\n" +
		"http://localhost:" + httpP + ", http://*.localhost:" + httpP + ", http://*.*.localhost:" + httpP + " {\n" +
		"\tbind 127.0.0.1 ::1\n" + body + "\n}\n"
}

// liveLogLine returns the first line of the log file that contains all of
// parts.
func liveLogLine(logFile string, parts ...string) (string, error) {
	b, err := os.ReadFile(logFile)
	if err != nil {
		return "", err
	}
lines:
	for _, line := range strings.Split(string(b), "\n") {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue lines
			}
		}
		return line, nil
	}
	return "", fmt.Errorf("no line of %s has all of %q", logFile, parts)
}

// liveCountLog counts the lines of the log file that contain all of parts.
func liveCountLog(t testing.TB, logFile string, parts ...string) int {
	t.Helper()
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
lines:
	for _, line := range strings.Split(string(b), "\n") {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue lines
			}
		}
		n++
	}
	return n
}

// liveWaitLog polls the log file for a line with all of parts.
func liveWaitLog(t testing.TB, logFile string, parts ...string) string {
	t.Helper()
	var line string
	eventually(t, 2*time.Second, fmt.Sprintf("a log line with %q", parts), func() (err error) {
		line, err = liveLogLine(logFile, parts...)
		return err
	})
	return line
}

func liveWrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLiveFolder covers a `dir` route folder end to end: creation, edits,
// comments, ignored and bad files, names held by the configuration or the
// API, removal of files and of the folder itself.
func TestLiveFolder(t *testing.T) {
	one := startApp(t, "127.0.0.1:0", hello("one"))
	two := startApp(t, "[::1]:0", hello("two")) // only on ::1, like Vite on Node ≥ 17
	conf := startApp(t, "127.0.0.1:0", hello("conf"))
	dir := filepath.Join(t.TempDir(), "routes") // does not exist yet
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	startCaddy(t, liveSiteWithLog(logFile, fmt.Sprintf("localdev {\n\t\tconf %[1]d\n\t\tconf2 %[1]d\n\t\tdir %[2]s\n\t}", conf, dir)))
	client := testClient("127.0.0.1")
	file := func(name string) string { return filepath.Join(dir, name) }

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("the missing route folder was not created: %v", err)
	}
	if !info.IsDir() || info.Mode().Perm() != 0o700 {
		t.Fatalf("route folder: mode %v, want a directory with 0700", info.Mode())
	}

	// A new file is a route, without a reload.
	liveWrite(t, file("app"), fmt.Sprintf("%d\n", one))
	liveWaitServes(t, client, time.Second, "app.localhost", "one")
	if r := liveList(t)["app.localhost"]; r.Source != "dir" || r.Target != strconv.Itoa(one) {
		t.Errorf("API shows the folder route as %+v; want source dir, target %d", r, one)
	}

	// Edits switch the target; comments and blank lines before it are skipped.
	liveWrite(t, file("app"), fmt.Sprintf("%d", two))
	liveWaitServes(t, client, time.Second, "app.localhost", "two")
	liveWrite(t, file("app"), fmt.Sprintf("# app: the one app\n\n   \n\t# started with: go run ./one\n%d\n# trailing comment\n", one))
	liveWaitServes(t, client, time.Second, "app.localhost", "one")

	// Dotfiles and editor files are ignored, silently; a bad file is logged
	// and skipped while the others keep working. "other" is written last, so
	// the scan that shows it has read the files before it.
	ignored := []string{".app.swp", "app.swp", "app~", ".#app", ".DS_Store", ".hidden"}
	for _, name := range ignored {
		liveWrite(t, file(name), fmt.Sprintf("%d\n", two))
	}
	liveWrite(t, file("bad"), "github.com:80\n")
	liveWrite(t, file("other"), fmt.Sprintf("%d\n", two))
	liveWaitServes(t, client, time.Second, "other.localhost", "two")
	line := liveWaitLog(t, logFile, "skipping route file", `"`+file("bad")+`"`, "github.com")
	if !strings.Contains(line, `"level":"warn"`) {
		t.Errorf("bad file logged as %s; want a warning", line)
	}
	if err := liveServes(client, "app.localhost", "one"); err != nil {
		t.Errorf("after a bad file: %v", err)
	}
	if err := liveServes(client, "bad.localhost", ""); err != nil {
		t.Errorf("the bad file became a route: %v", err)
	}
	var fromDir []string
	for name, r := range liveList(t) {
		if r.Source == "dir" {
			fromDir = append(fromDir, name)
		}
	}
	slices.Sort(fromDir)
	if want := []string{"app.localhost", "other.localhost"}; !slices.Equal(fromDir, want) {
		t.Errorf("folder routes %v; want %v (dotfiles, editor files and bad files are not routes)", fromDir, want)
	}
	for _, name := range ignored {
		if line, err := liveLogLine(logFile, `"`+file(name)+`"`); err == nil {
			t.Errorf("ignored file %s was logged: %s", name, line)
		}
	}

	// A file whose name the configuration routes is skipped with a warning;
	// the configured target keeps serving.
	// The warning names the file as it is written, and comes once, not on
	// every scan of the folder.
	liveWrite(t, file("conf"), fmt.Sprintf("%d\n", one))
	liveWrite(t, file("Conf2.localhost"), fmt.Sprintf("%d\n", two))
	liveWaitLog(t, logFile, "skipping route file", `"`+file("conf")+`"`, "conf.localhost")
	liveWaitLog(t, logFile, "skipping route file", `"`+file("Conf2.localhost")+`"`, "conf2.localhost")
	if err := liveServes(client, "conf.localhost", "conf"); err != nil {
		t.Errorf("a folder file took over a configured name: %v", err)
	}
	if err := liveServes(client, "conf2.localhost", "conf"); err != nil {
		t.Errorf("a folder file took over a configured name: %v", err)
	}
	for i := range 3 { // three scans that certainly ran after the warnings
		mark := fmt.Sprintf("mark%d", i)
		liveWrite(t, file(mark), fmt.Sprintf("%d\n", one))
		liveWaitServes(t, client, time.Second, mark+".localhost", "one")
	}
	for _, name := range []string{"conf", "Conf2.localhost"} {
		if n := liveCountLog(t, logFile, "skipping route file", `"`+file(name)+`"`); n != 1 {
			t.Errorf("the warning for %s was logged %d times; want once", name, n)
		}
	}
	if r := liveList(t)["conf.localhost"]; r.Source != "config" || r.Target != strconv.Itoa(conf) {
		t.Errorf("conf.localhost listed as %+v; want the configured route", r)
	}

	// Two files for one name: the first in name order wins, the other is
	// skipped with a warning that names both.
	liveWrite(t, file("dup"), fmt.Sprintf("%d\n", one))
	liveWrite(t, file("DUP"), fmt.Sprintf("%d\n", two))
	liveWaitLog(t, logFile, "skipping route file", `"`+file("dup")+`"`, file("DUP"))
	liveWaitServes(t, client, time.Second, "dup.localhost", "two")

	// A name the API claimed first stays the API's; the file is skipped
	// with a warning, and takes the name once the API lets it go.
	liveForget(t, "taken")
	livePut(t, "taken", strconv.Itoa(two), http.StatusCreated)
	liveWrite(t, file("taken"), fmt.Sprintf("%d\n", one))
	liveWaitLog(t, logFile, "skipping route file", `"`+file("taken")+`"`)
	if err := liveServes(client, "taken.localhost", "two"); err != nil {
		t.Errorf("a folder file took over an API route: %v", err)
	}
	if res := liveAPI(t, "DELETE", "/localdev/routes/taken", ""); res.status != http.StatusNoContent {
		t.Fatalf("DELETE taken: %s", res)
	}
	liveWaitServes(t, client, 1500*time.Millisecond, "taken.localhost", "one")
	if r := liveList(t)["taken.localhost"]; r.Source != "dir" {
		t.Errorf("taken.localhost listed as %+v; want the folder's route", r)
	}

	// Removing a file removes its route.
	if err := os.Remove(file("app")); err != nil {
		t.Fatal(err)
	}
	liveWaitServes(t, client, time.Second, "app.localhost", "")
	if err := liveServes(client, "other.localhost", "two"); err != nil {
		t.Errorf("removing one file disturbed another route: %v", err)
	}

	// Removing the folder removes its routes; creating it again brings
	// routes back without a reload.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	liveWaitServes(t, client, time.Second, "other.localhost", "")
	liveWaitServes(t, client, time.Second, "taken.localhost", "")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	liveWrite(t, file("back"), fmt.Sprintf("%d\n", one))
	liveWaitServes(t, client, 1500*time.Millisecond, "back.localhost", "one")
	// The folder is watched again, not just read: an edit shows up too.
	liveWrite(t, file("back"), fmt.Sprintf("%d\n", two))
	liveWaitServes(t, client, time.Second, "back.localhost", "two")
	if err := liveServes(client, "conf.localhost", "conf"); err != nil {
		t.Error(err)
	}
}

// TestLiveAPI covers the admin API's answers: create, replace, list,
// delete, validation, conflicts and conditional requests.
func TestLiveAPI(t *testing.T) {
	web := startApp(t, "127.0.0.1:0", hello("web"))
	web2 := startApp(t, "127.0.0.1:0", hello("web2"))
	conf := startApp(t, "127.0.0.1:0", hello("conf"))
	dir := t.TempDir()
	liveWrite(t, filepath.Join(dir, "filed"), fmt.Sprintf("%d\n", web))
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n\t\tconf %d\n\t\tdir %s\n\t}", conf, dir)))
	client := testClient("127.0.0.1")
	liveForget(t, "web", "num", "cond", "once", "bad1", "bad2", "bad3", "bad4", "bad5", "bad6", "bad7")
	liveWaitServes(t, client, time.Second, "filed.localhost", "web")

	// Create, then replace.
	r := livePut(t, "web", strconv.Itoa(web), http.StatusCreated)
	if r.Name != "web.localhost" || r.Target != strconv.Itoa(web) || r.Source != "api" {
		t.Errorf("PUT web answered %+v; want web.localhost, target %d, source api", r, web)
	}
	if err := liveServes(client, "web.localhost", "web"); err != nil {
		t.Fatalf("right after PUT: %v", err)
	}
	r = livePut(t, "web", strconv.Itoa(web2), http.StatusOK)
	if r.Target != strconv.Itoa(web2) {
		t.Errorf("replaced route: %+v", r)
	}
	if err := liveServes(client, "web.localhost", "web2"); err != nil {
		t.Fatalf("right after the replacing PUT: %v", err)
	}

	// A JSON number is a port too.
	res := liveAPI(t, "PUT", "/localdev/routes/num", fmt.Sprintf(`{"target": %d}`, web))
	if res.status != http.StatusCreated || !strings.Contains(res.body, fmt.Sprintf(`"target":"%d"`, web)) {
		t.Errorf("PUT with a JSON number: %s", res)
	}
	if err := liveServes(client, "num.localhost", "web"); err != nil {
		t.Error(err)
	}

	// The list: the URL is the one a browser uses, learned from the
	// traffic above (plain HTTP on port 9080).
	list := liveList(t)
	want := routes.Info{Name: "web.localhost", URL: "http://web.localhost:" + httpP, Target: strconv.Itoa(web2), Source: "api", Up: true}
	if got := list["web.localhost"]; !reflect.DeepEqual(got, want) {
		t.Errorf("GET /localdev/routes shows %+v; want %+v", got, want)
	}
	if got := list["conf.localhost"]; got.Source != "config" || got.URL != "http://conf.localhost:"+httpP {
		t.Errorf("configured route listed as %+v", got)
	}
	if got := list["filed.localhost"]; got.Source != "dir" || got.Target != strconv.Itoa(web) {
		t.Errorf("folder route listed as %+v", got)
	}
	res = liveAPI(t, "GET", "/localdev/routes/web", "")
	var one routes.Info
	if res.status != http.StatusOK || json.Unmarshal([]byte(res.body), &one) != nil || !reflect.DeepEqual(one, want) {
		t.Errorf("GET /localdev/routes/web: %s; want %+v", res, want)
	}

	// Delete, and delete again.
	if res := liveAPI(t, "DELETE", "/localdev/routes/web", ""); res.status != http.StatusNoContent || res.body != "" {
		t.Errorf("DELETE web: %s; want 204 with no body", res)
	}
	if err := liveServes(client, "web.localhost", ""); err != nil {
		t.Errorf("right after DELETE: %v", err)
	}
	liveWantError(t, "DELETE web again", liveAPI(t, "DELETE", "/localdev/routes/web", ""), http.StatusNotFound, "web.localhost")
	if _, ok := liveList(t)["web.localhost"]; ok {
		t.Error("a deleted route is still listed")
	}

	// Validation.
	liveWantError(t, "PUT github.com", liveAPI(t, "PUT", "/localdev/routes/github.com", fmt.Sprintf(`{"target": "%d"}`, web)), http.StatusBadRequest, "github.com")
	liveWantError(t, "DELETE github.com", liveAPI(t, "DELETE", "/localdev/routes/github.com", ""), http.StatusBadRequest, "github.com")
	for i, tc := range []struct{ body, mention string }{
		{`{"target": "10.0.0.1:80"}`, "10.0.0.1"},
		{`{"target": "0"}`, `"0"`},
		{`{"target": "abc"}`, "abc"},
		{`{"target": 0}`, "0"},
		{`{"target": 70000}`, "70000"},
		{`{"target": 1.5}`, "1.5"},
		{`{"target": "github.com:443"}`, "github.com"},
	} {
		name := fmt.Sprintf("bad%d", i+1)
		liveWantError(t, "PUT "+tc.body, liveAPI(t, "PUT", "/localdev/routes/"+name, tc.body), http.StatusBadRequest, tc.mention)
	}
	liveWantError(t, "PUT with broken JSON", liveAPI(t, "PUT", "/localdev/routes/bad1", `{"target": `), http.StatusBadRequest, "JSON")
	liveWantError(t, "PUT without a target", liveAPI(t, "PUT", "/localdev/routes/bad1", `{"port": 3000}`), http.StatusBadRequest, "target")
	for name := range liveList(t) {
		if strings.HasPrefix(name, "bad") || strings.Contains(name, "github") {
			t.Errorf("a refused PUT left a route %s", name)
		}
	}

	// Configured and folder names belong to their sources.
	liveWantError(t, "PUT conf", liveAPI(t, "PUT", "/localdev/routes/conf", fmt.Sprintf(`{"target": "%d"}`, web)), http.StatusConflict, "conf.localhost")
	liveWantError(t, "DELETE conf", liveAPI(t, "DELETE", "/localdev/routes/conf", ""), http.StatusConflict, "conf.localhost")
	liveWantError(t, "PUT conf.localhost with If-None-Match", liveAPI(t, "PUT", "/localdev/routes/conf.localhost", fmt.Sprintf(`{"target": "%d"}`, web), "If-None-Match: *"), http.StatusConflict, "conf.localhost")
	liveWantError(t, "PUT filed", liveAPI(t, "PUT", "/localdev/routes/filed", fmt.Sprintf(`{"target": "%d"}`, web2)), http.StatusConflict, "filed.localhost", "file")
	liveWantError(t, "DELETE filed", liveAPI(t, "DELETE", "/localdev/routes/filed", ""), http.StatusConflict, "filed.localhost", "file")
	if err := liveServes(client, "conf.localhost", "conf"); err != nil {
		t.Error(err)
	}
	if err := liveServes(client, "filed.localhost", "web"); err != nil {
		t.Error(err)
	}

	// Conditional delete: only while the route still points there.
	livePut(t, "cond", strconv.Itoa(web), http.StatusCreated)
	liveWantError(t, "DELETE cond?target=other", liveAPI(t, "DELETE", fmt.Sprintf("/localdev/routes/cond?target=%d", web2), ""), http.StatusConflict, strconv.Itoa(web))
	if err := liveServes(client, "cond.localhost", "web"); err != nil {
		t.Errorf("a refused conditional DELETE removed the route: %v", err)
	}
	if res := liveAPI(t, "DELETE", fmt.Sprintf("/localdev/routes/cond?target=%d", web), ""); res.status != http.StatusNoContent {
		t.Errorf("DELETE cond?target=<its target>: %s; want 204", res)
	}
	if err := liveServes(client, "cond.localhost", ""); err != nil {
		t.Error(err)
	}

	// If-None-Match: * adds only.
	livePut(t, "once", strconv.Itoa(web), http.StatusCreated, "If-None-Match: *")
	liveWantError(t, "PUT once again with If-None-Match", liveAPI(t, "PUT", "/localdev/routes/once", fmt.Sprintf(`{"target": "%d"}`, web2), "If-None-Match: *"), http.StatusConflict, "once.localhost")
	if err := liveServes(client, "once.localhost", "web"); err != nil {
		t.Errorf("a refused If-None-Match PUT changed the route: %v", err)
	}
}

// TestLiveConcurrentWriters has eight goroutines write the API at once,
// each on its own names and on two shared ones, while reading the list
// and requesting routes; afterwards the table must be exactly what the
// writes imply, and every route must work. Run it with -race.
func TestLiveConcurrentWriters(t *testing.T) {
	const writers = 8
	const opsEach = 120
	apps := make([]int, writers)
	for g := range apps {
		apps[g] = startApp(t, "127.0.0.1:0", hello(fmt.Sprintf("w%d", g)))
	}
	dead := make([]int, writers) // after the apps, so no app takes one
	for g := range dead {
		dead[g] = freePort(t)
	}
	appOf := map[string]string{} // target -> X-App, "" for a dead port
	for g := range writers {
		appOf[strconv.Itoa(apps[g])] = fmt.Sprintf("w%d", g)
		appOf[strconv.Itoa(dead[g])] = ""
	}
	startCaddy(t, httpSite(fmt.Sprintf("localdev {\n\t\tcfgname %d\n\t}", apps[0])))
	const ownNames = 3
	own := func(g, k int) string { return fmt.Sprintf("w%d-%d", g, k) }
	var names []string
	for g := range writers {
		for k := range ownNames {
			names = append(names, own(g, k))
		}
	}
	names = append(names, "shared-cond", "shared-free")
	liveForget(t, names...)

	type freeOp struct {
		start, end time.Time
		target     string // "" for a delete
	}
	var (
		mu       sync.Mutex
		problems []string
		ownState = make([]map[string]string, writers) // name -> target, per writer
		holds    = make([]int, writers)               // shared-cond: successful creates - deletes
		freeOps  []freeOp
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	client := testClient("127.0.0.1")
	// checkServes checks that a route this writer alone controls answers as
	// its last write says.
	checkServes := func(name, target string) error {
		status, app, err := liveGet(client, name+".localhost")
		if err != nil {
			return err
		}
		switch {
		case target == "" && status == 404:
		case target != "" && appOf[target] == "" && status == 502:
		case target != "" && appOf[target] != "" && status == 200 && app == appOf[target]:
		default:
			return fmt.Errorf("%s (last write: %q): status %d from %q", name, target, status, app)
		}
		return nil
	}

	var wg sync.WaitGroup
	for g := range writers {
		ownState[g] = map[string]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 0x10ca1de))
			state := ownState[g]
			mine := strconv.Itoa(apps[g])
			pick := func() string {
				if rng.IntN(4) == 0 {
					return strconv.Itoa(dead[g])
				}
				return mine
			}
			body := func(target string) string {
				if rng.IntN(2) == 0 {
					return fmt.Sprintf(`{"target": %s}`, target) // JSON number
				}
				return fmt.Sprintf(`{"target": %q}`, target)
			}
			for i := range opsEach {
				switch op := rng.IntN(20); {
				case op < 8: // own names: the answer is exactly predictable
					name := own(g, rng.IntN(ownNames))
					old, exists := state[name]
					if rng.IntN(3) > 0 {
						target := pick()
						res, err := liveAPIDo("PUT", "/localdev/routes/"+name, body(target))
						want := map[bool]int{false: 201, true: 200}[exists]
						if err != nil || res.status != want {
							fail("writer %d op %d: PUT %s: %v %v; want %d", g, i, name, res, err, want)
							return
						}
						state[name] = target
					} else {
						path := "/localdev/routes/" + name
						if exists && rng.IntN(2) == 0 {
							path += "?target=" + old
						}
						res, err := liveAPIDo("DELETE", path, "")
						want := map[bool]int{false: 404, true: 204}[exists]
						if err != nil || res.status != want {
							fail("writer %d op %d: DELETE %s: %v %v; want %d", g, i, path, res, err, want)
							return
						}
						delete(state, name)
					}
					if rng.IntN(4) == 0 {
						if err := checkServes(name, state[name]); err != nil {
							fail("writer %d op %d: %v", g, i, err)
						}
					}
				case op < 12: // shared-cond: add-only PUT, delete only our own target
					if holds[g] > 0 {
						res, err := liveAPIDo("DELETE", "/localdev/routes/shared-cond?target="+mine, "")
						if err != nil || res.status != 204 {
							fail("writer %d op %d: DELETE shared-cond held by us: %v %v; want 204", g, i, res, err)
							return
						}
						mu.Lock()
						holds[g]--
						mu.Unlock()
					} else {
						res, err := liveAPIDo("PUT", "/localdev/routes/shared-cond", body(mine), "If-None-Match: *")
						switch {
						case err != nil || (res.status != 201 && res.status != 409):
							fail("writer %d op %d: PUT shared-cond: %v %v; want 201 or 409", g, i, res, err)
							return
						case res.status == 201:
							mu.Lock()
							holds[g]++
							mu.Unlock()
						}
					}
				case op < 16: // shared-free: anyone replaces or deletes
					var res liveResp
					var err error
					target := ""
					start := time.Now()
					if rng.IntN(3) > 0 {
						target = pick()
						res, err = liveAPIDo("PUT", "/localdev/routes/shared-free", body(target))
					} else {
						res, err = liveAPIDo("DELETE", "/localdev/routes/shared-free", "")
					}
					end := time.Now()
					switch {
					case err != nil:
						fail("writer %d op %d: shared-free: %v", g, i, err)
						return
					case res.status == 200 || res.status == 201 || res.status == 204:
						mu.Lock()
						freeOps = append(freeOps, freeOp{start: start, end: end, target: target})
						mu.Unlock()
					case target == "" && res.status == 404:
					default:
						fail("writer %d op %d: shared-free (target %q): %v", g, i, target, res)
						return
					}
				case op < 17: // the configuration's name is never ours
					res, err := liveAPIDo("PUT", "/localdev/routes/cfgname", body(mine))
					if err != nil || res.status != 409 {
						fail("writer %d op %d: PUT cfgname: %v %v; want 409", g, i, res, err)
					}
				default: // the list agrees with our own writes, mid-storm
					list, err := liveListDo()
					if err != nil {
						fail("writer %d op %d: %v", g, i, err)
						return
					}
					for k := range ownNames {
						name := own(g, k)
						got, listed := list[name+".localhost"]
						target, exists := state[name]
						if listed != exists || (exists && (got.Target != target || got.Source != "api")) {
							fail("writer %d op %d: list shows %s as %+v (listed %v); last write says %q", g, i, name, got, listed, target)
						}
					}
					if c := list["cfgname.localhost"]; c.Source != "config" {
						fail("writer %d op %d: cfgname listed as %+v", g, i, c)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if t.Failed() {
		t.FailNow()
	}

	// What the writes imply.
	want := map[string]string{} // full name -> target
	for g := range writers {
		for name, target := range ownState[g] {
			want[name+".localhost"] = target
		}
	}
	holders := 0
	for g, h := range holds {
		switch h {
		case 0:
		case 1:
			holders++
			want["shared-cond.localhost"] = strconv.Itoa(apps[g])
		default:
			t.Fatalf("writer %d holds shared-cond %d times", g, h)
		}
	}
	if holders > 1 {
		t.Fatalf("%d writers each hold shared-cond", holders)
	}

	list := liveList(t)
	for _, name := range names {
		full := name + ".localhost"
		got, listed := list[full]
		if full == "shared-free.localhost" {
			// The last write is one that no other write began after it
			// ended; the table must show the result of one of those.
			ok := len(freeOps) == 0 && !listed
			var results []string
			for i, w := range freeOps {
				last := true
				for j, o := range freeOps {
					if i != j && o.start.After(w.end) {
						last = false
						break
					}
				}
				if last {
					results = append(results, w.target)
					if (w.target == "" && !listed) || (w.target != "" && listed && got.Target == w.target) {
						ok = true
					}
				}
			}
			if !ok {
				t.Errorf("shared-free is %+v (listed %v); the last writes could only leave one of %q", got, listed, results)
			}
			if listed {
				want[full] = got.Target
			}
			continue
		}
		target, exists := want[full]
		if listed != exists || (exists && (got.Target != target || got.Source != "api")) {
			t.Errorf("%s listed as %+v (listed %v); its last successful write says %q (exists %v)", full, got, listed, target, exists)
		}
	}
	// Every route answers as its target says, every other name is unknown.
	for _, name := range names {
		full := name + ".localhost"
		target := want[full]
		if err := checkServes(name, target); err != nil {
			t.Error(err)
		}
	}
	if err := liveServes(client, "cfgname.localhost", "w0"); err != nil {
		t.Error(err)
	}
	t.Logf("%d routes left, shared-free written %d times", len(want), len(freeOps))
}

// TestLiveChurnAPI keeps a WebSocket to a.localhost echoing while
// b.localhost is added and removed through the API 500 times.
func TestLiveChurnAPI(t *testing.T) {
	a := liveWSApp(t, "a")
	b := startApp(t, "127.0.0.1:0", hello("b"))
	startCaddy(t, httpSite("localdev"))
	client := testClient("127.0.0.1")
	liveForget(t, "a", "b")
	livePut(t, "a", strconv.Itoa(a), http.StatusCreated)
	c := liveDialWS(t, "a.localhost")
	liveEcho(t, c, "a", "before")
	for i := range 500 {
		if res := liveAPI(t, "PUT", "/localdev/routes/b", fmt.Sprintf(`{"target": "%d"}`, b)); res.status != http.StatusCreated {
			t.Fatalf("cycle %d: PUT b: %s", i, res)
		}
		if i%50 == 0 {
			if err := liveServes(client, "b.localhost", "b"); err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
		}
		liveEcho(t, c, "a", fmt.Sprintf("cycle %d", i))
		if res := liveAPI(t, "DELETE", "/localdev/routes/b", ""); res.status != http.StatusNoContent {
			t.Fatalf("cycle %d: DELETE b: %s", i, res)
		}
		if i%50 == 0 {
			if err := liveServes(client, "b.localhost", ""); err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
		}
	}
	liveEcho(t, c, "a", "after")
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("closing the WebSocket: %v", err)
	}
}

// TestLiveChurnFolder keeps a WebSocket to a folder route a.localhost
// echoing while the file of b.localhost is created and removed 500 times.
func TestLiveChurnFolder(t *testing.T) {
	a := liveWSApp(t, "a")
	b := startApp(t, "127.0.0.1:0", hello("b"))
	dir := t.TempDir()
	liveWrite(t, filepath.Join(dir, "a"), fmt.Sprintf("%d\n", a))
	startCaddy(t, httpSite("localdev {\n\t\tdir "+dir+"\n\t}"))
	client := testClient("127.0.0.1")
	bFile := filepath.Join(dir, "b")
	c := liveDialWS(t, "a.localhost")
	liveEcho(t, c, "a", "before")
	appeared, disappeared := 0, 0
	for i := range 500 {
		liveWrite(t, bFile, fmt.Sprintf("%d\n", b))
		if i%100 == 0 { // now and then, let the watcher catch up
			liveWaitServes(t, client, 2*time.Second, "b.localhost", "b")
			appeared++
		}
		liveEcho(t, c, "a", fmt.Sprintf("cycle %d", i))
		if err := os.Remove(bFile); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			liveWaitServes(t, client, 2*time.Second, "b.localhost", "")
			disappeared++
		}
	}
	liveWaitServes(t, client, 2*time.Second, "b.localhost", "")
	liveEcho(t, c, "a", "after")
	if r := liveList(t)["a.localhost"]; r.Source != "dir" {
		t.Errorf("a.localhost listed as %+v after the churn", r)
	}
	if appeared == 0 || disappeared == 0 {
		t.Errorf("b.localhost appeared %d and disappeared %d times", appeared, disappeared)
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("closing the WebSocket: %v", err)
	}
}

// TestLiveReload checks that API routes survive POST /load (the same
// Caddyfile and a different one), and that WebSockets to routes that stay
// keep echoing on the same connection across those reloads.
func TestLiveReload(t *testing.T) {
	ws := liveWSApp(t, "ws")
	apiWS := liveWSApp(t, "apiws")
	other1 := startApp(t, "127.0.0.1:0", hello("other1"))
	other2 := startApp(t, "127.0.0.1:0", hello("other2"))
	config := func(other int) string {
		return httpSite(fmt.Sprintf("localdev {\n\t\tws %d\n\t\tother %d\n\t}", ws, other))
	}
	first, second := config(other1), config(other2)
	startCaddy(t, first)
	client := testClient("127.0.0.1")
	liveForget(t, "survivor")
	livePut(t, "survivor", strconv.Itoa(apiWS), http.StatusCreated)
	configured := liveDialWS(t, "ws.localhost")
	runtime := liveDialWS(t, "survivor.localhost")
	liveEcho(t, configured, "ws", "before")
	liveEcho(t, runtime, "apiws", "before")

	check := func(step, otherApp string) {
		t.Helper()
		liveEcho(t, configured, "ws", "after "+step)
		liveEcho(t, runtime, "apiws", "after "+step)
		for host, app := range map[string]string{"survivor.localhost": "apiws", "ws.localhost": "ws", "other.localhost": otherApp} {
			if err := liveServes(client, host, app); err != nil {
				t.Errorf("after %s: %v", step, err)
			}
		}
		if r := liveList(t)["survivor.localhost"]; r.Source != "api" || r.Target != strconv.Itoa(apiWS) {
			t.Errorf("after %s: survivor listed as %+v", step, r)
		}
	}
	liveLoad(t, first, true) // caddy reload --force: the same configuration, loaded again
	check("a forced reload of the same Caddyfile", "other1")
	liveLoad(t, first, false) // caddy reload: unchanged, so Caddy keeps it
	check("a reload of the same Caddyfile", "other1")
	liveLoad(t, second, false) // another route changes
	check("a reload that changes another route", "other2")
	liveLoad(t, first, false)
	check("a reload back", "other1")
	for _, c := range []*websocket.Conn{configured, runtime} {
		if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Errorf("closing a WebSocket: %v", err)
		}
	}
}

// TestLiveCertificates checks that a name added through the API gets its
// own certificate on demand, and that a name never routed gets none.
func TestLiveCertificates(t *testing.T) {
	late := startApp(t, "127.0.0.1:0", hello("late"))
	startCaddy(t, httpsSite("localdev"))
	// A name of its own each run: certificates stay in the process's cache.
	name := "late-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	host := name + ".localhost"
	liveForget(t, name)
	// With the budget for names that are not exactly routed spent, an
	// unrouted name gets no certificate, while an exact route always does.
	certBudget.exhaust()
	t.Cleanup(certBudget.reset)
	if cert, err := leafFor(host); err == nil {
		t.Fatalf("%s got a certificate for %v before it was routed", host, cert.DNSNames)
	}
	livePut(t, name, strconv.Itoa(late), http.StatusCreated)
	cert, err := leafFor(host)
	if err != nil {
		t.Fatalf("%s after PUT: %v", host, err)
	}
	if !slices.Equal(cert.DNSNames, []string{host}) {
		t.Errorf("%s: certificate names %v, want exactly %s", host, cert.DNSNames, host)
	}
	res := fetch(t, testClient("127.0.0.1"), "GET", httpsURL(host, "/"))
	if res.status != 200 || res.header.Get("X-App") != "late" || res.proto != "HTTP/2.0" {
		t.Errorf("https://%s: %d %s %q", host, res.status, res.proto, res.body)
	}
	for _, name := range []string{"never-routed-" + name + ".localhost", host + ".evil.test", "github.com"} {
		if cert, err := leafFor(name); err == nil {
			t.Errorf("%s got a certificate for %v; want none", name, cert.DNSNames)
		}
	}
}

// TestLiveFolderAcrossReload checks a folder kept across reloads: its
// routes stay without a gap, a configured name shadows a folder file, and
// a file removed while shadowed does not come back when the configured
// route goes.
func TestLiveFolderAcrossReload(t *testing.T) {
	one := startApp(t, "127.0.0.1:0", hello("one"))
	two := startApp(t, "127.0.0.1:0", hello("two"))
	conf := startApp(t, "127.0.0.1:0", hello("conf"))
	dir := t.TempDir()
	withoutX := httpSite("localdev {\n\t\tdir " + dir + "\n\t}")
	withX := httpSite(fmt.Sprintf("localdev {\n\t\tx %d\n\t\tdir %s\n\t}", conf, dir))
	client := testClient("127.0.0.1")
	file := func(name string) string { return filepath.Join(dir, name) }
	liveWrite(t, file("x"), fmt.Sprintf("%d\n", one))
	liveWrite(t, file("keep"), fmt.Sprintf("%d\n", two))
	startCaddy(t, withoutX)
	liveWaitServes(t, client, time.Second, "x.localhost", "one")
	liveWaitServes(t, client, time.Second, "keep.localhost", "two")

	// The configuration now routes x: it wins over the file.
	liveLoad(t, withX, false)
	if err := liveServes(client, "x.localhost", "conf"); err != nil {
		t.Fatalf("after a reload that configures x: %v", err)
	}
	if err := liveServes(client, "keep.localhost", "two"); err != nil {
		t.Fatalf("a reload that keeps the folder lost its route: %v", err)
	}
	// Edit the shadowed file, then remove it; each time wait for a scan
	// that has seen the change (a marker file written after it).
	liveWrite(t, file("x"), fmt.Sprintf("%d\n", two))
	liveWrite(t, file("mark1"), fmt.Sprintf("%d\n", two))
	liveWaitServes(t, client, time.Second, "mark1.localhost", "two")
	if err := liveServes(client, "x.localhost", "conf"); err != nil {
		t.Fatalf("a folder file took over a configured name: %v", err)
	}
	if err := os.Remove(file("x")); err != nil {
		t.Fatal(err)
	}
	liveWrite(t, file("mark2"), fmt.Sprintf("%d\n", two))
	liveWaitServes(t, client, time.Second, "mark2.localhost", "two")

	// The configured x goes: nothing routes x any more, since its file is gone.
	liveLoad(t, withoutX, false)
	if err := liveServes(client, "x.localhost", ""); err != nil {
		t.Errorf("after the configured x went, with its file removed: %v", err)
	}
	if r, ok := liveList(t)["x.localhost"]; ok {
		t.Errorf("x.localhost still listed: %+v", r)
	}
	// A file for x works again.
	liveWrite(t, file("x"), fmt.Sprintf("%d\n", one))
	liveWaitServes(t, client, time.Second, "x.localhost", "one")
}

// TestLiveFolderSecretLink: a route file that is a link to a file its
// writer could not read (a shadow file, a process's environment) puts at
// most a short escaped excerpt of that file into the log.
func TestLiveFolderSecretLink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "routes")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	private := t.TempDir()
	secret := "root:$6$Zm9vYmFy$" + strings.Repeat("q8Xv2LpR7sT0", 8) + ":19700:0:99999:7:::"
	shadow := filepath.Join(private, "shadow")
	liveWrite(t, shadow, secret+"\ndaemon:*:19700:0:99999:7:::\n")
	environ := filepath.Join(private, "environ")
	envSecret := "AWS_SECRET_ACCESS_KEY=" + strings.Repeat("wJalrXUtnFEMI", 5)
	liveWrite(t, environ, "\x1b]0;pwned\x07\x1b[2J"+envSecret+"\x00HOME=/root\x00")
	for link, target := range map[string]string{"leak": shadow, "env": environ} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	startCaddy(t, liveSiteWithLog(logFile, "localdev {\n\t\tdir "+dir+"\n\t}"))
	leak := liveWaitLog(t, logFile, "skipping route file", filepath.Join(dir, "leak")+`"`)
	env := liveWaitLog(t, logFile, "skipping route file", filepath.Join(dir, "env")+`"`)
	t.Logf("logged: %s\n%s", leak, env)
	if !strings.Contains(leak, secret[:39]+"…") {
		t.Errorf("the warning lacks the excerpt %q: %s", secret[:39]+"…", leak)
	}
	if !strings.Contains(env, `\\x1b]0;pwned\\a\\x1b[2J`) {
		t.Errorf("the warning lacks the escaped excerpt: %s", env)
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, envSecret} {
		for i := 0; i+41 <= len(s); i++ {
			if strings.Contains(string(log), s[i:i+41]) {
				t.Fatalf("the log carries %q, 41 characters of a linked file", s[i:i+41])
			}
		}
	}
	for _, raw := range []string{"\x1b", "\x07", `\u001b`, "daemon:", "HOME=/root"} {
		if strings.Contains(string(log), raw) {
			t.Errorf("the log carries %q from a linked file", raw)
		}
	}
}

// TestLiveFolderComesBack: a route folder renamed away, or removed with
// the folder above it, and made again is watched again, without a reload
// and without rescans.
func TestLiveFolderComesBack(t *testing.T) {
	one := startApp(t, "127.0.0.1:0", hello("one"))
	two := startApp(t, "127.0.0.1:0", hello("two"))
	base := t.TempDir()
	above := filepath.Join(base, "config", "localdev")
	dir := filepath.Join(above, "routes")
	startCaddy(t, httpSite("localdev {\n\t\tdir "+dir+"\n\t}"))
	client := testClient("127.0.0.1")
	liveWrite(t, filepath.Join(dir, "app"), fmt.Sprintf("%d\n", one))
	liveWaitServes(t, client, time.Second, "app.localhost", "one")

	// Renamed away: its routes go; a new folder in its place is read and
	// watched; the old one, elsewhere now, is not.
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	liveWaitServes(t, client, time.Second, "app.localhost", "")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	liveWrite(t, filepath.Join(dir, "new"), fmt.Sprintf("%d\n", two))
	liveWaitServes(t, client, time.Second, "new.localhost", "two")
	liveWrite(t, filepath.Join(dir+".old", "stale"), fmt.Sprintf("%d\n", one))
	liveWrite(t, filepath.Join(dir, "mark"), fmt.Sprintf("%d\n", one))
	liveWaitServes(t, client, time.Second, "mark.localhost", "one")
	if err := liveServes(client, "stale.localhost", ""); err != nil {
		t.Errorf("a file in the renamed folder became a route: %v", err)
	}

	// Removed with the folders above it, then made again, a level at a time.
	if err := os.RemoveAll(filepath.Join(base, "config")); err != nil {
		t.Fatal(err)
	}
	liveWaitServes(t, client, time.Second, "new.localhost", "")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	liveWrite(t, filepath.Join(dir, "back"), fmt.Sprintf("%d\n", one))
	liveWaitServes(t, client, time.Second, "back.localhost", "one")
	liveWrite(t, filepath.Join(dir, "back"), fmt.Sprintf("%d\n", two))
	liveWaitServes(t, client, time.Second, "back.localhost", "two")
}

// TestLiveFolderLogsAfterReload: after a reload that changes logging, the
// folder watcher (shared by both configurations) logs to the new log.
func TestLiveFolderLogsAfterReload(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(t.TempDir(), "first.log")
	second := filepath.Join(t.TempDir(), "second.log")
	body := "localdev {\n\t\tdir " + dir + "\n\t}"
	startCaddy(t, liveSiteWithLog(first, body))
	liveWrite(t, filepath.Join(dir, "early"), "nowhere.example:80\n")
	liveWaitLog(t, first, "skipping route file", filepath.Join(dir, "early"))
	liveLoad(t, liveSiteWithLog(second, body), false)
	liveWrite(t, filepath.Join(dir, "late"), "elsewhere.example:80\n")
	liveWaitLog(t, second, "skipping route file", filepath.Join(dir, "late"))
	if n := liveCountLog(t, first, filepath.Join(dir, "late")); n != 0 {
		t.Errorf("the first configuration's log got the warning too")
	}
}

// TestLiveFolderNameFreed: a folder file whose name the configuration
// held becomes a route as soon as a reload frees the name, with no change
// in the folder.
func TestLiveFolderNameFreed(t *testing.T) {
	one := startApp(t, "127.0.0.1:0", hello("one"))
	conf := startApp(t, "127.0.0.1:0", hello("conf"))
	dir := t.TempDir()
	liveWrite(t, filepath.Join(dir, "x"), fmt.Sprintf("%d\n", one))
	withX := httpSite(fmt.Sprintf("localdev {\n\t\tx %d\n\t\tdir %s\n\t}", conf, dir))
	withoutX := httpSite("localdev {\n\t\tdir " + dir + "\n\t}")
	startCaddy(t, withX)
	client := testClient("127.0.0.1")
	if err := liveServes(client, "x.localhost", "conf"); err != nil {
		t.Fatal(err)
	}
	liveLoad(t, withoutX, false)
	liveWaitServes(t, client, time.Second, "x.localhost", "one")
	liveLoad(t, withX, false)
	liveWaitServes(t, client, time.Second, "x.localhost", "conf")
	liveLoad(t, withoutX, false)
	liveWaitServes(t, client, time.Second, "x.localhost", "one")
}

// manyRouteFiles returns a folder of n route files to a closed port, made
// once per test binary (writing 10,000 files takes seconds): tests must
// leave it as they found it. It lives in the test binary's temporary HOME,
// which TestMain removes.
func manyRouteFiles(t testing.TB, n int) string {
	t.Helper()
	dir := filepath.Join(os.Getenv("HOME"), fmt.Sprintf("route-files-%d", n))
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir
	}
	if os.Getenv("LOCALDEV_TEST_HOME") == "" {
		t.Fatal("HOME is not the test binary's temporary folder")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(freePort(t))
	for i := range n {
		liveWrite(t, filepath.Join(dir, fmt.Sprintf("app-%05d", i)), port+"\n")
	}
	liveWrite(t, filepath.Join(dir, "complete"), port+"\n")
	return dir
}

// TestLiveFolderLinkedFileChanges: a route file that links to a file kept
// elsewhere (as dotfile managers do) follows edits of that file, in place
// or by replacing it, without any change in the route folder.
func TestLiveFolderLinkedFileChanges(t *testing.T) {
	one := startApp(t, "127.0.0.1:0", hello("one"))
	two := startApp(t, "127.0.0.1:0", hello("two"))
	dir := t.TempDir()
	dotfiles := filepath.Join(t.TempDir(), "dotfiles")
	if err := os.Mkdir(dotfiles, 0o700); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dotfiles, "app")
	liveWrite(t, real, fmt.Sprintf("%d\n", one))
	if err := os.Symlink(real, filepath.Join(dir, "app")); err != nil {
		t.Fatal(err)
	}
	startCaddy(t, httpSite("localdev {\n\t\tdir "+dir+"\n\t}"))
	client := testClient("127.0.0.1")
	liveWaitServes(t, client, time.Second, "app.localhost", "one")

	liveWrite(t, real, fmt.Sprintf("%d\n", two)) // edited in place
	liveWaitServes(t, client, time.Second, "app.localhost", "two")

	tmp := filepath.Join(dotfiles, ".app.new") // replaced, as editors save
	liveWrite(t, tmp, fmt.Sprintf("%d\n", one))
	if err := os.Rename(tmp, real); err != nil {
		t.Fatal(err)
	}
	liveWaitServes(t, client, time.Second, "app.localhost", "one")

	if err := os.Remove(real); err != nil { // the link dangles: no route
		t.Fatal(err)
	}
	liveWaitServes(t, client, time.Second, "app.localhost", "")
	liveWrite(t, real, fmt.Sprintf("%d\n", two)) // and is whole again
	liveWaitServes(t, client, time.Second, "app.localhost", "two")
}
