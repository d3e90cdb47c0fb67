package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/asyncmq/asyncmq/backend/sqlite"
	"github.com/asyncmq/asyncmq/internal/redact"
)

// RequireExistingStore fails when backendURL names a SQLite file that does not exist, so that
// a command that only reads or changes what is stored says so instead of creating an empty
// database (which would also hide a mistyped path, or a file that was deleted under running
// workers). Other stores, and a SQLite file that exists, pass.
func RequireExistingStore(backendURL string) error {
	path, ok := sqlite.PathFromURL(backendURL)
	if !ok {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		return fmt.Errorf("--backend (%s) %q: no database exists at %s; this command does not create one (enqueue, worker, repeatable create, queue pause --create and serve --demo do)",
			EnvName("backend"), redact.URL(backendURL), path)
	}
	return nil
}
