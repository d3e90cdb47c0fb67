package chaos

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// mountTmpfs mounts a tmpfs of size bytes at dir, so that filling it is a full disk for the
// database inside.
func mountTmpfs(dir string, size int64) error {
	if os.Geteuid() != 0 {
		return errors.New("not root: mounting a size-limited tmpfs needs root")
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		return fmt.Errorf("mount a tmpfs at %s: %w", dir, err)
	}
	return nil
}

// unmount undoes mountTmpfs, lazily when the file system is still busy.
func unmount(dir string) error {
	if err := syscall.Unmount(dir, 0); err != nil {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount the tmpfs at %s: %w", dir, err)
		}
	}
	return nil
}
