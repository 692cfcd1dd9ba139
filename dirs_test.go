package localdev

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestFolderStepRecovers: a panic in a step of the folder watcher is
// logged, with its stack, through the newest configuration's logger, and
// the watcher goes on.
func TestFolderStepRecovers(t *testing.T) {
	firstCore, firstLogs := observer.New(zapcore.DebugLevel)
	newCore, newLogs := observer.New(zapcore.DebugLevel)
	f := &folder{path: "/routes", first: zap.New(firstCore)}
	owner := &Handler{}
	f.logs.push(owner, zap.New(newCore))
	ran := false
	f.safely("reading the route folder", func() { panic("boom") })
	f.safely("reading the route folder", func() { ran = true })
	if !ran {
		t.Error("the step after a panic did not run")
	}
	entries := newLogs.All()
	if len(entries) != 1 || entries[0].Level != zapcore.ErrorLevel || !strings.Contains(entries[0].Message, "panic") {
		t.Fatalf("logged %v, want one error about the panic", entries)
	}
	fields := entries[0].ContextMap()
	if fields["error"] != "boom" || !strings.Contains(fields["stack"].(string), "TestFolderStepRecovers") || fields["dir"] != "/routes" {
		t.Errorf("panic logged with %v", fields)
	}
	if firstLogs.Len() != 0 {
		t.Error("the first configuration's logger was used, not the newest")
	}
	f.logs.drop(owner)
	f.safely("reading the route folder", func() { panic("again") })
	if firstLogs.Len() != 1 {
		t.Error("with every configuration gone, the panic was not logged through the first logger")
	}
}
