package localdev

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAPIBodies sends every kind of bad body to the admin API: each is a
// 400 whose message says what is wrong, and no route appears.
func TestAPIBodies(t *testing.T) {
	startCaddy(t, httpSite("localdev keep 3999"))
	liveForget(t, "strict.localhost")
	for _, tc := range []struct{ body, want string }{
		{``, "EOF"},
		{`[]`, "not an object"},
		{`"62893"`, "not an object"},
		{`{"target": "62893", "port": 1}`, `unknown field "port"`},
		{`{"target": "1", "Target": "2"}`, `unknown field "Target"`},
		{`{"TARGET": "3000", "OWNER": "x"}`, `unknown field "TARGET"`},
		{`{"owner": "a", "Owner": "b", "target": "1"}`, `unknown field "Owner"`},
		{`{"target": "62893", "target": "4000"}`, `duplicate key "target"`},
		{`{"target": "62893"} {"target": "4000"}`, "data after the object"},
		{`{"target": "62893"}x`, "after the object"},
		{`{"target": "62893"`, "EOF"},
		{`{}`, `needs a "target"`},
		{`{"target": null}`, `needs a "target"`},
		{`{"target": 5173.5}`, "not a whole port number"},
		{`{"target": true}`, "must be a string or a port number"},
		{`{"target": "62893", "owner": 7}`, "owner"},
		{`{"target": "example.com:80"}`, "example.com"},
		{strings.Repeat(" ", maxAPIBody+1), "larger than"},
	} {
		res := liveAPI(t, "PUT", "/localdev/routes/strict", tc.body)
		if res.status != http.StatusBadRequest || !strings.Contains(apiMessage(res), tc.want) {
			t.Errorf("PUT body %.40q: %s; want 400 containing %q", tc.body, res, tc.want)
		}
	}
	if got := liveList(t); len(got) != 1 {
		t.Errorf("routes after bad bodies: %v; want only the configured one", got)
	}
	// A JSON number is a port, and a good body still works.
	if r := livePut(t, "strict", "62893", http.StatusCreated); r.Target != "62893" {
		t.Errorf("PUT: %+v", r)
	}
	if res := liveAPI(t, "PUT", "/localdev/routes/strict", `{"target": 4000}`); res.status != http.StatusOK || !strings.Contains(res.body, `"target":"4000"`) {
		t.Errorf("PUT with a number: %s", res)
	}
}

// TestAPIOwner checks that a conditional delete names the owner that put
// the route: a later PUT by another owner, even with the same target,
// is not removed by the first owner's delete.
func TestAPIOwner(t *testing.T) {
	startCaddy(t, httpSite("localdev keep 3999"))
	liveForget(t, "owned.localhost")
	put := func(owner string, status int) {
		t.Helper()
		res := liveAPI(t, "PUT", "/localdev/routes/owned", `{"target": "5000", "owner": "`+owner+`"}`)
		if res.status != status {
			t.Fatalf("PUT as %s: %s; want %d", owner, res, status)
		}
		if strings.Contains(res.body, owner) {
			t.Errorf("the route object shows the owner token: %s", res.body)
		}
	}
	put("first", http.StatusCreated)
	put("second", http.StatusOK) // --replace on the same port
	if res := liveAPI(t, "DELETE", "/localdev/routes/owned?owner=first&target=5000", ""); res.status != http.StatusConflict ||
		!strings.Contains(res.body, "another owner") {
		t.Errorf("DELETE by the replaced owner: %s; want 409", res)
	}
	if _, ok := liveList(t)["owned.localhost"]; !ok {
		t.Fatal("the newer owner's route is gone")
	}
	if res := liveAPI(t, "DELETE", "/localdev/routes/owned?owner=second&target=5000", ""); res.status != http.StatusNoContent {
		t.Errorf("DELETE by the owner: %s; want 204", res)
	}
}

// TestAPIDomains checks GET /localdev/domains and where the API puts
// short names: under the one loaded domain, and nowhere when several are
// loaded (the name must be full), with a 400 for a name no handler serves.
func TestAPIDomains(t *testing.T) {
	startCaddy(t, httpSite("localdev {\n\t\tdomain test\n\t\tkeep 3999\n\t}"))
	liveForget(t, "short.test", "full.test", "full.example")
	if res := liveAPI(t, "GET", "/localdev/domains", ""); res.status != http.StatusOK || strings.TrimSpace(res.body) != `["test"]` {
		t.Errorf("domains: %s", res)
	}
	if r := livePut(t, "short", "5001", http.StatusCreated); r.Name != "short.test" {
		t.Errorf("a short name went to %s, want short.test", r.Name)
	}
	if res := liveAPI(t, "PUT", "/localdev/routes/app.localhost", `{"target": "5001"}`); res.status != http.StatusBadRequest ||
		!strings.Contains(apiMessage(res), `outside the domain "test"`) {
		t.Errorf("a name under another domain: %s; want 400", res)
	}

	two := "{" + globals + "}\n" +
		"http://*.test:" + httpP + ", http://test:" + httpP + " {\n\tbind 127.0.0.1\n\tlocaldev {\n\t\tdomain test\n\t}\n}\n" +
		"http://*.example:" + httpP + ", http://example:" + httpP + " {\n\tbind 127.0.0.1\n\tlocaldev {\n\t\tdomain example\n\t}\n}\n"
	startCaddy(t, two)
	if res := liveAPI(t, "GET", "/localdev/domains", ""); strings.TrimSpace(res.body) != `["example","test"]` {
		t.Errorf("domains: %s", res)
	}
	if res := liveAPI(t, "PUT", "/localdev/routes/short", `{"target": "5001"}`); res.status != http.StatusBadRequest ||
		!strings.Contains(res.body, "write the full name") {
		t.Errorf("a short name with two domains: %s; want 400", res)
	}
	for _, name := range []string{"full.test", "full.example"} {
		if r := livePut(t, name, "5001", http.StatusCreated); r.Name != name {
			t.Errorf("PUT %s gave %s", name, r.Name)
		}
	}
	if res := liveAPI(t, "PUT", "/localdev/routes/x.localhost", `{"target": "5001"}`); res.status != http.StatusBadRequest {
		t.Errorf("a name no handler serves: %s; want 400", res)
	}
}

// apiMessage returns the "error" of an admin API answer.
func apiMessage(res liveResp) string {
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(res.body), &e); err != nil {
		return res.body
	}
	return e.Error
}

// FuzzDecodeStrict feeds the admin API's body decoder arbitrary bytes: it
// never panics, and whatever it accepts is one object with known keys.
func FuzzDecodeStrict(f *testing.F) {
	for _, seed := range []string{
		`{"target": "62893"}`, `{"target": 62893, "owner": "x"}`, `{"target": "1", "target": "2"}`,
		`{"target": "1"} {}`, `[]`, ``, `{"target": "1", "Target": "2"}`, `{"TARGET": "1"}`, `{"a": {"b": [1, {"c": 2}]}}`, `{"target": "\u0000"}`, `{"owner": null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req routeRequest
		if err := decodeStrict(strings.NewReader(string(data)), &req, "target", "owner"); err != nil {
			return
		}
		if err := checkKeys(data, []string{"target", "owner"}); err != nil {
			t.Fatalf("accepted %q although checkKeys says %v", data, err)
		}
	})
}

func TestPlaceName(t *testing.T) {
	for _, tc := range []struct {
		name    string
		domains []string
		want    string // "" for an error
		err     string
	}{
		{"web", []string{"localhost"}, "web.localhost", ""},
		{"Web.Localhost.", []string{"localhost"}, "web.localhost", ""},
		{"*.shop", []string{"localhost"}, "*.shop.localhost", ""},
		{"bücher", []string{"localhost"}, "xn--bcher-kva.localhost", ""},
		{"web", []string{"example", "test"}, "", "write the full name"},
		{"web.test", []string{"example", "test"}, "web.test", ""},
		{"web.localhost", []string{"example", "test"}, "", "not under a domain"},
		{"localhost", []string{"localhost"}, "", "reserved"},
		{"*.localhost", []string{"dev.localhost", "localhost"}, "", "reserved"},
		{"dev.localhost", []string{"dev.localhost", "localhost"}, "", "reserved"},
		{"*.dev.localhost", []string{"dev.localhost", "localhost"}, "", "reserved"},
		{"app.dev.localhost", []string{"dev.localhost", "localhost"}, "app.dev.localhost", ""},
		{"web", nil, "", "no localdev handler"},
		{"github.com", []string{"localhost"}, "", "outside the domain"},
	} {
		got, err := placeName(tc.name, tc.domains)
		if tc.want != "" && (err != nil || got != tc.want) {
			t.Errorf("placeName(%q, %q) = %q, %v; want %q", tc.name, tc.domains, got, err, tc.want)
		}
		if tc.want == "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("placeName(%q, %q) = %q, %v; want an error containing %q", tc.name, tc.domains, got, err, tc.err)
		}
	}
}
