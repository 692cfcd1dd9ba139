//go:build unix && !linux

package localdev

// becomeSubreaper does nothing where there are no subreapers: orphans of
// the command's group go to init, which reaps them.
func becomeSubreaper() {}

// reapGroup does nothing: run is the parent of no process of the group
// but the command, which runChild reaps.
func reapGroup(int) {}
