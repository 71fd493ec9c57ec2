package deliver

import (
	"fmt"
	"sync"

	"github.com/sfbridge/sfbridge/internal/config"
)

// window is the DLQ window (Conduit's idea): the outcomes of the last Size
// records that reached an end by being written or dead-lettered. When a
// dead letter would make Threshold or more of a full window failures, the
// window trips instead: that record and every later one that would go to
// the DLQ are handed back to the broker, and the sync stops and alerts
// rather than filling the DLQ with records that all fail alike (a broken
// mapping, a validation rule that rejects everything). Superseded and
// filtered records do not count: they were never tried.
type window struct {
	size    int
	percent float64 // (0, 100]

	mu      sync.Mutex
	ring    []bool // true = dead-lettered
	next    int
	filled  int
	failed  int
	tripped bool
}

func newWindow(cfg config.DLQWindow) *window {
	w := &window{size: cfg.Size, percent: float64(cfg.Threshold)}
	if w.size > 0 {
		w.ring = make([]bool, w.size)
	}
	return w
}

func (w *window) push(failed bool) {
	if w.filled == w.size {
		if w.ring[w.next] {
			w.failed--
		}
	} else {
		w.filled++
	}
	w.ring[w.next] = failed
	if failed {
		w.failed++
	}
	w.next = (w.next + 1) % w.size
}

// delivered records a success.
func (w *window) delivered() {
	if w.size == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.push(false)
}

// admit asks whether one more record may go to the DLQ. It records the
// failure and returns true, or trips the window (once) and returns false;
// after a trip it always returns false. tripped is true on the one call
// that tripped it.
func (w *window) admit() (ok, tripped bool) {
	if w.size == 0 {
		return true, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tripped {
		return false, false
	}
	failed, filled := w.failed+1, min(w.filled+1, w.size)
	if w.filled == w.size && w.ring[w.next] {
		failed-- // the oldest outcome, a failure, leaves the window
	}
	if filled == w.size && float64(failed)*100 >= w.percent*float64(w.size) {
		w.tripped = true
		return false, true
	}
	w.push(true)
	return true, false
}

// WindowStats is a snapshot of the DLQ window.
type WindowStats struct {
	Size    int  `json:"size"`
	Filled  int  `json:"filled"`
	Failed  int  `json:"failed"`
	Tripped bool `json:"tripped"`
}

func (w *window) stats() WindowStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WindowStats{Size: w.size, Filled: w.filled, Failed: w.failed, Tripped: w.tripped}
}

func (w *window) describe() string {
	return fmt.Sprintf("%g%% or more of the last %d records would have gone to the DLQ (dlq_window)", w.percent, w.size)
}
