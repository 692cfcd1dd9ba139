package hostsfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// maxSize bounds what is read: a hosts file is small, and a huge one is
// more likely the wrong file than a hosts file.
const maxSize = 64 << 20

// Sync makes the managed block of the file at path equal to block (see
// Block). It reports whether the file was written: when the block is
// already as wanted, the file is not touched (its modification time
// stays). A missing file is created with mode 0644.
func Sync(path, block string) (bool, error) {
	return update(path, true, func(b []byte) ([]byte, error) { return Replace(b, block) })
}

// Clean removes the managed block from the file at path and reports
// whether the file was written. A missing file is left missing.
func Clean(path string) (bool, error) {
	return update(path, false, Remove)
}

// Read returns the content of the file at path; a missing file reads as
// empty.
func Read(path string) ([]byte, error) {
	b, _, err := read(path)
	return b, err
}

// PermissionError reports that the file, or its folder, may not be
// written by this process.
type PermissionError struct {
	Path string
	Err  error
}

func (e *PermissionError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *PermissionError) Unwrap() error { return e.Err }

// FileError wraps any other failure with the file's path.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

func fileError(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		return &PermissionError{Path: path, Err: err}
	}
	return &FileError{Path: path, Err: err}
}

func read(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fileError(path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fileError(path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, &FileError{Path: path, Err: fmt.Errorf("not a regular file (%s)", info.Mode().Type())}
	}
	if info.Size() > maxSize {
		return nil, nil, &FileError{Path: path, Err: fmt.Errorf("%d bytes is too large for a hosts file", info.Size())}
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, nil, fileError(path, err)
	}
	return buf.Bytes(), info, nil
}

// attempts bounds how often update starts over when another program
// changes the file between our read and our write.
const attempts = 5

// update reads the file, applies change, and writes the result if it
// differs. A symbolic link is followed and its target written, so that
// the link stays a link.
func update(path string, create bool, change func([]byte) ([]byte, error)) (bool, error) {
	target, err := filepath.EvalSymlinks(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		target = path
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fileError(path, err)
	}
	for range attempts {
		old, info, err := read(target)
		if err != nil {
			return false, err
		}
		if info == nil && !create {
			return false, nil
		}
		content, err := change(old)
		if err != nil {
			return false, &FileError{Path: target, Err: err}
		}
		if info != nil && bytes.Equal(content, old) {
			return false, nil
		}
		err = write(target, content, info)
		if errors.Is(err, errRaced) {
			continue
		}
		return err == nil, err
	}
	return false, &FileError{Path: target, Err: errors.New("another program kept changing the file; try again")}
}

// errRaced means the file changed while we prepared its new content.
var errRaced = errors.New("the file changed while it was being updated")

// write replaces the file at path with content: a temporary file in the
// same folder, synced, then renamed over it, with the old file's mode and
// owner. Where the rename cannot replace the file (a file bind-mounted
// into a container: EBUSY or EXDEV), or the folder takes no new file, the
// file is rewritten in place instead. info is the old file's, nil if none.
func write(path string, content []byte, info fs.FileInfo) error {
	mode := fs.FileMode(0o644)
	if info != nil {
		mode = info.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".localdev-*")
	if err != nil {
		if info != nil && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
			return rewrite(path, content, info)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return &FileError{Path: path, Err: fmt.Errorf("the folder %s does not exist", filepath.Dir(path))}
		}
		return fileError(path, err)
	}
	name := tmp.Name()
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(name)
		}
	}()
	if _, err := tmp.Write(content); err != nil {
		return fileError(path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fileError(path, err)
	}
	if info != nil {
		if err := keepOwner(tmp, info); err != nil {
			// the new file cannot have the old owner: keep the old file
			_ = tmp.Close()
			_ = os.Remove(name)
			done = true
			return rewrite(path, content, info)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fileError(path, err)
	}
	if err := tmp.Close(); err != nil {
		return fileError(path, err)
	}
	if changed(path, info) {
		return errRaced
	}
	if err := os.Rename(name, path); err != nil {
		_ = os.Remove(name)
		done = true
		if info != nil && (errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EPERM)) {
			return rewrite(path, content, info)
		}
		return fileError(path, err)
	}
	done = true
	syncDir(filepath.Dir(path))
	return nil
}

// rewrite writes content over the file at path in place, for files that
// cannot be replaced. Should the write fail half-way (a full disk), the old
// content is written back, which fits in the space the file already had,
// so the file is never left partial.
func rewrite(path string, content []byte, info fs.FileInfo) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fileError(path, err)
	}
	defer f.Close()
	old, err := readAll(f, info.Size())
	if err != nil {
		return fileError(path, err)
	}
	if changed(path, info) {
		return errRaced
	}
	if err := overwrite(f, content); err != nil {
		if rerr := overwrite(f, old); rerr != nil {
			return fileError(path, fmt.Errorf("%v; restoring the old content failed too: %v", err, rerr))
		}
		return fileError(path, err)
	}
	return nil
}

func readAll(f *os.File, size int64) ([]byte, error) {
	b := make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if int64(n) == size {
		return b, nil
	}
	return nil, err
}

func overwrite(f *os.File, content []byte) error {
	if _, err := f.WriteAt(content, 0); err != nil {
		return err
	}
	if err := f.Truncate(int64(len(content))); err != nil {
		return err
	}
	return f.Sync()
}

// changed reports whether the file at path is no longer the one described
// by info (nil: there was none), by identity, size and modification time.
func changed(path string, info fs.FileInfo) bool {
	now, err := os.Stat(path)
	if info == nil {
		return err == nil
	}
	if err != nil {
		return true
	}
	return !os.SameFile(info, now) || info.Size() != now.Size() || !info.ModTime().Equal(now.ModTime())
}

func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync() // best effort: not every system syncs folders
	_ = d.Close()
}
