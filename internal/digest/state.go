package digest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Files of the Writer's state folder.
const (
	journalFile = "pending.jsonl" // entries not yet in a digest, one JSON object a line
	headsFile   = "heads.json"    // the newest digest written per endpoint (the local anchor)
)

// entry is one journal line: a stored, deleted or rewritten object of an
// endpoint, waiting for the next digest.
type entry struct {
	Endpoint  string     `json:"endpoint"`
	Object    *Object    `json:"object,omitempty"`
	Deleted   *Deleted   `json:"deleted,omitempty"`
	Rewritten *Rewritten `json:"rewritten,omitempty"`
}

// Head is the newest digest of an endpoint's chain as the writer last
// wrote it. The writer keeps one per endpoint in its state folder
// (heads.json); Verify, given it, reports a chain whose newest digests
// were deleted.
type Head struct {
	Endpoint string    `json:"endpoint"`
	Key      string    `json:"key"`
	Sequence uint64    `json:"sequence"`
	SHA256   string    `json:"sha256"`
	EndTime  time.Time `json:"end_time"`
	Reason   string    `json:"reason"`
}

// LoadHeads reads the heads a Writer with this state folder recorded. A
// missing file is no error: the map is empty.
func LoadHeads(stateDir string) (map[string]Head, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, headsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Head{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read digest heads: %w", err)
	}
	heads := map[string]Head{}
	if err := json.Unmarshal(data, &heads); err != nil {
		return nil, fmt.Errorf("read digest heads %s: %w", filepath.Join(stateDir, headsFile), err)
	}
	return heads, nil
}

// loadJournal reads the pending entries. A torn last line (a crash while
// appending) is dropped: its object's Put was not acknowledged to the
// spool, so the spool stores and reports it again.
func loadJournal(path string) ([]entry, int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read digest journal: %w", err)
	}
	var out []entry
	torn := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Endpoint == "" {
			torn++
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("read digest journal: %w", err)
	}
	return out, torn, nil
}

// writeFileDurably replaces dir/name with data: temp file, fsync, rename,
// fsync the folder.
func writeFileDurably(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
