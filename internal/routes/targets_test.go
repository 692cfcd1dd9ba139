package routes

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in    string
		dials []string
		tls   bool
		port  int
	}{
		{"62893", []string{"127.0.0.1:62893", "[::1]:62893"}, false, 62893},
		{"1", []string{"127.0.0.1:1", "[::1]:1"}, false, 1},
		{"127.0.0.1:3000", []string{"127.0.0.1:3000"}, false, 3000},
		{"127.1.2.3:3000", []string{"127.1.2.3:3000"}, false, 3000},
		{"[::1]:4000", []string{"[::1]:4000"}, false, 4000},
		{"[::ffff:127.0.0.1]:4000", []string{"127.0.0.1:4000"}, false, 4000},
		{"localhost:3000", []string{"127.0.0.1:3000", "[::1]:3000"}, false, 3000},
		{"LOCALHOST:3000", []string{"127.0.0.1:3000", "[::1]:3000"}, false, 3000},
		{"unix//run/app.sock", []string{"unix//run/app.sock"}, false, 0},
		{"https://5173", []string{"127.0.0.1:5173", "[::1]:5173"}, true, 5173},
		{"https://[::1]:5173", []string{"[::1]:5173"}, true, 5173},
		{"https://unix//tmp/a.sock", []string{"unix//tmp/a.sock"}, true, 0},
	} {
		got, err := ParseTarget(tc.in)
		if err != nil {
			t.Errorf("ParseTarget(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got.Dials, tc.dials) || got.TLS != tc.tls || got.Port != tc.port || got.Raw != tc.in {
			t.Errorf("ParseTarget(%q) = %+v; want dials %v tls %v port %d", tc.in, got, tc.dials, tc.tls, tc.port)
		}
	}
}

func TestParseTargetRefusesOtherMachines(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0", "port 0 is out of range"},
		{"65536", "port 65536 is out of range"},
		{"99999999999999999999", "out of range"},
		{"-1", `target "-1"`},
		{"", "is empty"},
		{"https://", "is empty"},
		{"abc", `target "abc"`},
		{"github.com:443", `host "github.com" is not this machine`},
		{"10.0.0.1:3000", `host "10.0.0.1" is not a loopback address`},
		{"192.168.1.5:80", `host "192.168.1.5" is not a loopback address`},
		{"0.0.0.0:80", `host "0.0.0.0" is not a loopback address`},
		{"[::]:80", `host "::" is not a loopback address`},
		{"8.8.8.8:53", "not a loopback address"},
		{"[fe80::1%lo]:80", "not this machine"},
		{"127.0.0.1:0", "port 0 is out of range"},
		{"127.0.0.1:http", `port "http" is not a number`},
		{"127.0.0.1", `target "127.0.0.1"`},
		{"http://3000", "only https:// may come before"},
		{"ftp://127.0.0.1:21", "only https:// may come before"},
		{"https://example.com:443", `host "example.com" is not this machine`},
		{"unix/relative.sock", "absolute path"},
		{"unix//", "absolute path"},
		{"unix//tmp/{http.request.uri.query.s}", `the character '{'`},
		{"unix//tmp/a\nb", `has the character U+000A at byte 11: control characters`},
		{"3000\x1b[2J", `"3000\x1b[2J" has the character U+001B at byte 4`},
		{"\u202e0003", `has the character U+202E at byte 0: control characters and bidirectional overrides are not allowed`},
		{"unix//tmp/\u2066x", "U+2066"},
		{"unix//tmp/\u200fx", "U+200F"},
		{"unix//tmp/a\u0085b", "U+0085"},
		{"unix//tmp/a\x7fb", "U+007F"},
		{"unix//tmp/a\xffb", `is not valid UTF-8 (at byte 11)`},
	} {
		_, err := ParseTarget(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseTarget(%q) error = %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

// FuzzParseTarget checks that every accepted target dials only this machine.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"62893", "127.0.0.1:3000", "[::1]:4000", "localhost:1", "unix//a", "https://5173", "github.com:443", "[::ffff:10.0.0.1]:80", "0x7f.1:80", "unix//a\u202eb", "unix//\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tgt, err := ParseTarget(raw)
		if err != nil {
			return
		}
		if len(tgt.Dials) == 0 {
			t.Fatalf("ParseTarget(%q) has no dial address", raw)
		}
		if i, r := unsafeRune(raw); i >= 0 {
			t.Fatalf("ParseTarget(%q) accepted the character %U", raw, r)
		}
		for _, d := range tgt.Dials {
			if !strings.HasPrefix(d, "127.") && !strings.HasPrefix(d, "[::1]:") && !strings.HasPrefix(d, "unix//") {
				t.Fatalf("ParseTarget(%q) dials %q, not this machine", raw, d)
			}
			if strings.ContainsAny(d, "{}") {
				t.Fatalf("ParseTarget(%q) dials %q, which holds a placeholder", raw, d)
			}
		}
	})
}
