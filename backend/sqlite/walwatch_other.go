//go:build !linux

package sqlite

import "errors"

// walWatch is not available off Linux: the watcher polls at WatchInterval.
type walWatch struct{ changed chan struct{} }

func newWALWatch(string) (*walWatch, error) {
	return nil, errors.New("file notifications are not supported on this system")
}

func (w *walWatch) rearm() {}

func (w *walWatch) close() {}
