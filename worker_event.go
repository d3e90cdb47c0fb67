package asyncmq

import "github.com/asyncmq/asyncmq/asyncmqtype"

// WorkerEventKind names something a Worker did; see WorkerConfig.OnEvent.
type WorkerEventKind string

// The worker events. Tests wait on them instead of sleeping; benchmarks count them.
const (
	// WorkerFetched: a claim on Queue returned Count jobs (0 when none was runnable, or Err).
	WorkerFetched WorkerEventKind = "fetched"
	// WorkerJobStarted: the handler of JobID is about to run.
	WorkerJobStarted WorkerEventKind = "job_started"
	// WorkerJobFinished: the Outcome of JobID was stored, or Err says why it was not (an error
	// wrapping ErrLeaseLost when another worker took the job over).
	WorkerJobFinished WorkerEventKind = "job_finished"
	// WorkerJobAbandoned: the handler of JobID ended without an outcome to store, because the
	// lease was lost (Err wraps ErrLeaseLost) or the worker was shutting down (ErrWorkerShutdown,
	// the job is released).
	WorkerJobAbandoned WorkerEventKind = "job_abandoned"
	// WorkerReleased: Count jobs were released at shutdown.
	WorkerReleased WorkerEventKind = "released"
	// WorkerHeartbeat: a heartbeat extended Count leases.
	WorkerHeartbeat WorkerEventKind = "heartbeat"
	// WorkerScheduled: a scheduling pass ran; Count delayed jobs were promoted.
	WorkerScheduled WorkerEventKind = "scheduled"
	// WorkerRepeatableFired: the repeatable RepeatableID enqueued JobID.
	WorkerRepeatableFired WorkerEventKind = "repeatable_fired"
	// WorkerRecovered: a stalled-job pass requeued or failed Count jobs.
	WorkerRecovered WorkerEventKind = "recovered"
	// WorkerCleaned: a retention pass deleted Count finished jobs.
	WorkerCleaned WorkerEventKind = "cleaned"
	// WorkerLeader: the worker became the store's maintenance leader (Count 1) or stopped being
	// it (Count 0).
	WorkerLeader WorkerEventKind = "leader"
)

// WorkerEvent describes one thing a Worker did.
type WorkerEvent struct {
	Kind         WorkerEventKind
	Queue        string
	JobID        string
	RepeatableID string
	// Outcome is set for WorkerJobFinished.
	Outcome asyncmqtype.Outcome
	Count   int
	// Err is the error the step met, if any.
	Err error
}

func (w *Worker) emit(e WorkerEvent) {
	if w.cfg.OnEvent != nil {
		w.cfg.OnEvent(e)
	}
}
