package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/uuid"
)

const ledgerName = "ledger.json"

// ledger is the spool's small state file. Segment files themselves say what
// is unsent (a segment is deleted only once every record in it is in the
// blob store); the ledger holds what must never repeat: the spool's identity
// and the next segment number, which names objects deterministically.
type ledger struct {
	Version int    `json:"version"`
	SpoolID string `json:"spool_id"`
	// NextSegment is persisted before a segment with that number is
	// created, so numbers are never reused, even after every segment has
	// been uploaded and deleted.
	NextSegment uint64 `json:"next_segment"`
	// UploadedSegments and UploadedRecords count what this spool has
	// delivered over its lifetime.
	UploadedSegments uint64 `json:"uploaded_segments"`
	UploadedRecords  uint64 `json:"uploaded_records"`
}

// loadLedger reads dir/ledger.json, creating a fresh ledger when absent.
func loadLedger(dir string) (*ledger, error) {
	path := filepath.Join(dir, ledgerName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		l := &ledger{Version: 1, SpoolID: uuid.NewString(), NextSegment: 1}
		return l, l.save(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read spool ledger: %w", err)
	}
	var l ledger
	if err := json.Unmarshal(b, &l); err != nil || l.Version != 1 || l.SpoolID == "" {
		return nil, fmt.Errorf("spool ledger %s is damaged (%v); move it aside to start a new spool identity", path, err)
	}
	return &l, nil
}

// save writes the ledger durably: temp file, fsync, rename, fsync dir.
func (l *ledger) save(dir string) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+ledgerName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("write spool ledger: %w", err)
	}
	if _, err = f.Write(append(b, '\n')); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, ledgerName))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write spool ledger: %w", err)
	}
	return nil
}
