package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// createKeyFile creates dir/name holding n random bytes, readable by its
// owner only, and returns its contents. It follows the durable recipe:
// write a temporary file, fsync it, link it into place (never replacing a
// file another process created meanwhile: then that file's contents are
// returned), fsync the folder. Secrets without a keys provider (the
// redaction HMAC key, the digest signing seed) live in such files.
func createKeyFile(dir, name string, n int) ([]byte, error) {
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	key := make([]byte, n)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(key)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path) // another process won the race
	}
	if err != nil {
		return nil, err
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return nil, fmt.Errorf("sync %s: %w", dir, err)
	}
	return key, nil
}
