package cli

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal (an *os.File on a TTY).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Progress reports how far a long bulk operation has got, rewriting one line on a terminal. On
// anything that is not a terminal (a pipe, a file, a test buffer) it prints nothing, so scripts
// see only the final result.
type Progress struct {
	w     io.Writer
	label string
	total int
	done  int
	last  time.Time
	on    bool
}

// NewProgress returns a Progress for total items that writes to w when w is a terminal.
func NewProgress(w io.Writer, label string, total int) *Progress {
	return &Progress{w: w, label: label, total: total, on: IsTerminal(w)}
}

// Add records n more finished items and redraws at most ten times a second.
func (p *Progress) Add(n int) {
	p.done += n
	if !p.on {
		return
	}
	now := time.Now()
	if p.done < p.total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	pct := 100
	if p.total > 0 {
		pct = p.done * 100 / p.total
	}
	fmt.Fprintf(p.w, "\r%s %d/%d (%d%%)", p.label, p.done, p.total, pct)
}

// Done clears the progress line.
func (p *Progress) Done() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// IsTerminalInput reports whether r is a terminal (an *os.File on a TTY), where a command may
// ask a question and wait for the answer.
func IsTerminalInput(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Spinner shows that a long single operation (a drain, a clean, a benchmark) is still running,
// with the time spent, on one rewritten line of a terminal; elsewhere it prints nothing.
type Spinner struct {
	stop   chan struct{}
	done   chan struct{}
	detail atomic.Pointer[string]
}

// SetDetail shows detail (say, a running count) after the label from the next redraw on.
func (s *Spinner) SetDetail(detail string) { s.detail.Store(&detail) }

// StartSpinner starts a Spinner labelled label on w when w is a terminal. Call Stop when the
// operation ends.
func StartSpinner(w io.Writer, label string) *Spinner {
	s := &Spinner{stop: make(chan struct{}), done: make(chan struct{})}
	if !IsTerminal(w) {
		close(s.done)
		return s
	}
	go func() {
		defer close(s.done)
		start := time.Now()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		frames := `|/-\`
		for i := 0; ; i++ {
			detail := ""
			if d := s.detail.Load(); d != nil {
				detail = ", " + *d
			}
			fmt.Fprintf(w, "\r%c %s %.1fs%s\033[K", frames[i%len(frames)], label, time.Since(start).Seconds(), detail)
			select {
			case <-s.stop:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends the spinner and clears its line. It is safe to call more than once.
func (s *Spinner) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}
