package sqlite

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// walWatch reports writes to the file's write-ahead log through inotify, so an idle watcher
// sleeps until some connection, in any process, writes, instead of polling. Every commit writes
// the log, so a commit always wakes it; the PRAGMA data_version check that follows tells a commit
// from other writes.
type walWatch struct {
	f       *os.File
	changed chan struct{}
}

// newWALWatch watches path's "-wal" file; it fails where inotify is unavailable or the log does
// not exist, and the caller then polls.
func newWALWatch(path string) (*walWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, path+"-wal", unix.IN_MODIFY); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	// A non-blocking descriptor goes through the runtime's poller, so Close ends a pending Read.
	w := &walWatch{f: os.NewFile(uintptr(fd), "inotify "+path+"-wal"), changed: make(chan struct{}, 1)}
	go w.read()
	return w, nil
}

func (w *walWatch) read() {
	buf := make([]byte, 64*unix.SizeofInotifyEvent)
	for {
		if _, err := w.f.Read(buf); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue
		}
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
}

func (w *walWatch) close() { _ = w.f.Close() }
