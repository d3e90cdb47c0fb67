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
//
// It reports one write per arm: a busy log is written thousands of times a second, and reading
// every event costs the writer's process a wake-up each (about 7% of the throughput of a busy
// worker). Between arms the kernel folds the unread events into one, which the next arm reads
// at once, so no write goes unseen.
type walWatch struct {
	f       *os.File
	arm     chan struct{}
	changed chan struct{}
	done    chan struct{}
}

// newWALWatch watches path's "-wal" file, armed; it fails where inotify is unavailable or the
// log does not exist, and the caller then polls.
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
	w := &walWatch{
		f:       os.NewFile(uintptr(fd), "inotify "+path+"-wal"),
		arm:     make(chan struct{}, 1),
		changed: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	w.arm <- struct{}{}
	go w.read()
	return w, nil
}

// rearm asks for the next write to be reported on changed.
func (w *walWatch) rearm() {
	select {
	case w.arm <- struct{}{}:
	default:
	}
}

func (w *walWatch) read() {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		select {
		case <-w.arm:
		case <-w.done:
			return
		}
		for {
			_, err := w.f.Read(buf)
			if err == nil {
				break
			}
			if errors.Is(err, os.ErrClosed) {
				return
			}
		}
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
}

func (w *walWatch) close() {
	close(w.done)
	_ = w.f.Close()
}
