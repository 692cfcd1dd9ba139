//go:build !unix

package hostsfile

import (
	"io/fs"
	"os"
)

// keepOwner does nothing where files have no Unix owner (Windows keeps the
// folder's inherited permissions on the new file).
func keepOwner(*os.File, fs.FileInfo) error { return nil }
